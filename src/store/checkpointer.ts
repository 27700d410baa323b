import { statfsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';

/** Messages between this thread and the store: its requests, then the store's answers. */
export type CheckpointRequest = { error: string; code?: string } | { pause: true } | { resume: true };
export type CheckpointCommand = 'paused' | 'stop' | 'reclaim';

/**
 * The checkpoint thread's own connection (see Checkpoints in database.ts): whenever the log has
 * grown past the threshold, a PASSIVE checkpoint copies committed pages into the database file.
 * PASSIVE never waits on the writer or on readers; what it cannot copy now it copies next time.
 *
 * SQLite starts the log again from its beginning only when a write finds every frame already
 * copied, which under a steady stream of commits never happens: each lands while the last
 * checkpoint is running. The log then grows without end, every commit extends the file, and
 * syncs of the log were seen taking tens of milliseconds (against a fraction of one). So once
 * the log holds `restartBytes`, this thread asks the store to hold its writes, runs a RESTART
 * checkpoint (the frames since the last PASSIVE one, then a reset), and lets them go.
 *
 * On a nearly full disk the threshold shrinks with the free space (a quarter of it), so the
 * part of the log not yet copied stays small. When the disk fills, the store releases the space
 * reserved beside the database (disk-reserve.ts) and sends 'reclaim': writes are held in the
 * same way, and a TRUNCATE checkpoint copies what is left into the database and gives the whole
 * log's space back to the file system.
 */
const { file, thresholdBytes, restartBytes, everyMs } = workerData as { file: string; thresholdBytes: number; restartBytes: number; everyMs: number };
const log = `${file}-wal`;
const dir = path.dirname(path.resolve(file));
const db = new SQLite(file);
// With NORMAL, a checkpoint syncs the log before copying and the database after.
db.pragma('synchronous = NORMAL');
// While writes are held, a reader still on the log may keep the RESTART waiting: not for long.
db.pragma('busy_timeout = 100');
const pageBytes = db.pragma('page_size', { simple: true }) as number;
let restarting = false;
/** How the next checkpoint with writes held runs: RESTART, or TRUNCATE to give the space back. */
let mode: 'RESTART' | 'TRUNCATE' = 'RESTART';

const post = (message: CheckpointRequest): void => parentPort?.postMessage(message);
const failed = (err: unknown): void => post(err instanceof Error ? { error: err.message, code: (err as { code?: string }).code } : { error: String(err) });

function threshold(): number {
  const { bavail, bsize } = statfsSync(dir);
  return Math.min(thresholdBytes, (bavail * bsize) / 4);
}

function holdWrites(then: typeof mode): void {
  if (restarting) return;
  restarting = true;
  mode = then;
  post({ pause: true });
}

const timer = setInterval(() => {
  if (restarting) return;
  try {
    if ((statSync(log, { throwIfNoEntry: false })?.size ?? 0) > threshold()) {
      const [result] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
      if (result && result.log * pageBytes > restartBytes) holdWrites('RESTART');
    }
  } catch (err) {
    failed(err);
  }
}, everyMs);

parentPort?.on('message', (command: CheckpointCommand) => {
  if (command === 'paused') {
    try {
      // If a reader outlasts the busy timeout, the log restarts at a later try.
      db.pragma(`wal_checkpoint(${mode})`);
    } catch (err) {
      failed(err);
    } finally {
      restarting = false;
      post({ resume: true });
    }
    return;
  }
  if (command === 'reclaim') {
    holdWrites('TRUNCATE');
    return;
  }
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
