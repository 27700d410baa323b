import { rmSync, statfsSync, statSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';

/** Held beside a SQLite database; see diskReserve. */
export const DISK_RESERVE_BYTES = 1024 * 1024;

/**
 * Space held back beside the SQLite database for getting out of a full disk. When a write or a
 * checkpoint finds the disk full, the reserve is deleted: the checkpoint can then copy the log
 * into the database file, after which SQLite reuses the log from its start and writes go on.
 * It is made again once the disk has room for it twice over, so it never takes the last space.
 * (The checkpoint thread keeps the log's uncopied part smaller than the reserve on a nearly full
 * disk: see checkpointer.ts.)
 */
export function diskReserve(databaseFile: string, bytes = DISK_RESERVE_BYTES): DiskReserve {
  const file = `${databaseFile}-reserve`;
  const dir = path.dirname(path.resolve(databaseFile));
  let held = (statSync(file, { throwIfNoEntry: false })?.size ?? 0) === bytes;
  let making: Promise<void> | undefined;
  let lastTry = 0;
  /** Counts releases, so a reserve being made while the disk filled up is not kept. */
  let releases = 0;

  async function make(): Promise<void> {
    const { bavail, bsize } = statfsSync(dir);
    if (bavail * bsize < 2 * bytes) return;
    const before = releases;
    const handle = await open(file, 'w');
    try {
      await handle.write(Buffer.alloc(bytes));
      await handle.sync();
      held = releases === before;
    } finally {
      await handle.close();
      if (!held) await rm(file, { force: true });
    }
  }

  return {
    get held(): boolean {
      return held;
    },
    /** Makes the reserve if it is missing and there is room, at most once a second. */
    ensure(): Promise<void> {
      if (held || making || Date.now() - lastTry < 1000) return making ?? Promise.resolve();
      lastTry = Date.now();
      making = make()
        .catch(() => undefined)
        .finally(() => (making = undefined));
      return making;
    },
    /** Gives the space back to the file system; true if there was any to give. */
    release(): boolean {
      releases += 1;
      if (!held) return false;
      held = false;
      rmSync(file, { force: true });
      return true;
    },
  };
}

/** Space held back for a full disk. */
export interface DiskReserve {
  readonly held: boolean;
  /** Makes the reserve if it is missing and there is room, at most once a second. */
  ensure(): Promise<void>;
  /** Gives the space back to the file system; true if there was any to give. */
  release(): boolean;
}
