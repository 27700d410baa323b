import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';

/** Messages between this thread and the store: its requests, then the store's answers. */
export type CheckpointRequest = { error: string } | { pause: true } | { resume: true };
export type CheckpointCommand = 'paused' | 'stop';

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
 */
const { file, thresholdBytes, restartBytes, everyMs } = workerData as { file: string; thresholdBytes: number; restartBytes: number; everyMs: number };
const log = `${file}-wal`;
const db = new SQLite(file);
// With NORMAL, a checkpoint syncs the log before copying and the database after.
db.pragma('synchronous = NORMAL');
// While writes are held, a reader still on the log may keep the RESTART waiting: not for long.
db.pragma('busy_timeout = 100');
const pageBytes = db.pragma('page_size', { simple: true }) as number;
let restarting = false;

const post = (message: CheckpointRequest): void => parentPort?.postMessage(message);
const failed = (err: unknown): void => post({ error: err instanceof Error ? err.message : String(err) });

const timer = setInterval(() => {
  if (restarting) return;
  try {
    if ((statSync(log, { throwIfNoEntry: false })?.size ?? 0) > thresholdBytes) {
      const [result] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
      if (result && result.log * pageBytes > restartBytes) {
        restarting = true;
        post({ pause: true });
      }
    }
  } catch (err) {
    failed(err);
  }
}, everyMs);

parentPort?.on('message', (command: CheckpointCommand) => {
  if (command === 'paused') {
    try {
      // If a reader outlasts the busy timeout, the log restarts at a later try.
      db.pragma('wal_checkpoint(RESTART)');
    } catch (err) {
      failed(err);
    } finally {
      restarting = false;
      post({ resume: true });
    }
    return;
  }
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
