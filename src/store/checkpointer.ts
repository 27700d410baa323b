import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';

/**
 * The checkpoint thread's own connection (see Checkpoints in database.ts): whenever the log has
 * grown past the threshold, a PASSIVE checkpoint copies committed pages into the database file.
 * PASSIVE never waits on the writer or on readers; what it cannot copy now it copies next time.
 */
const { file, thresholdBytes, everyMs } = workerData as { file: string; thresholdBytes: number; everyMs: number };
const log = `${file}-wal`;
const db = new SQLite(file);
// With NORMAL, a checkpoint syncs the log before copying and the database after.
db.pragma('synchronous = NORMAL');

const timer = setInterval(() => {
  try {
    if ((statSync(log, { throwIfNoEntry: false })?.size ?? 0) > thresholdBytes) {
      db.pragma('wal_checkpoint(PASSIVE)');
    }
  } catch (err) {
    parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
}, everyMs);

parentPort?.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
