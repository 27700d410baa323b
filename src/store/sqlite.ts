import { closeSync, mkdirSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Backend } from './backend.js';
import type { CheckpointCommand, CheckpointRequest } from './checkpointer.js';
import { diskReserve } from './disk-reserve.js';
import { DiskWatch } from './faults.js';
import type { GroupCommitter } from './group-commit.js';
import { migrate } from './migrate.js';
import { localNotifier } from './notifier.js';
import type { Database } from './schema.js';
import { withStatementCache } from './statement-cache.js';
import { guardDialect, readOnly } from './units.js';

/** `sqlite:./data/triage.db`, `file:...` or a plain path. */
export function sqlitePath(url: string): string {
  return url.replace(/^(sqlite|file):(\/\/)?/, '');
}

/**
 * One file, one connection, migrated. Its log is synced after each commit (walSync), and its
 * checkpoints run on a thread of their own once the committer exists (attach).
 */
export async function sqliteBackend(file: string, onError: (err: Error) => void): Promise<Backend> {
  const memory = file === ':memory:';
  if (!memory) {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    // SQLite would create the file 0644, and its -wal and -shm take the database file's mode:
    // created here first, all three are the owner's alone. An existing file keeps its mode.
    closeSync(openSync(file, 'a', 0o600));
  }
  const sqlite = new SQLite(file);
  // WAL with synchronous=NORMAL, and the log synced by the group committer (walSync) after each
  // commit, before any caller hears back: the durability of synchronous=FULL (an acknowledged
  // write survives a crash or power loss), without blocking the event loop on the fsync.
  // SQLite still syncs the log before each checkpoint and the database after it.
  // busy_timeout covers the CLI reading alongside. temp_store=MEMORY keeps the journals that
  // undo one statement or savepoint in memory: a batch of traces outgrows their 64 KiB default
  // and spilled each commit to a temporary file (created, written, deleted), which took a third
  // of a trace's write time. They play no part in crash recovery, which is the WAL's.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('temp_store = MEMORY');
  const db = new Kysely<Database>({ dialect: guardDialect(new SqliteDialect({ database: withStatementCache(sqlite) })) });
  await migrate(db);
  const wal = memory ? undefined : await walSync(file);
  let checkpoints: ReturnType<typeof checkpointThread> | undefined;
  return {
    dialect: 'sqlite',
    location: file,
    db,
    notifier: localNotifier(),
    sync: wal?.sync,
    async attach(committer) {
      const reserve = memory ? undefined : diskReserve(file);
      await reserve?.ensure();
      const disk = new DiskWatch({
        full: () => {
          if (reserve?.release()) onError(new Error(`disk full: released the space reserved beside ${file} so the log can be copied into the database; free space on its file system`));
          checkpoints?.reclaim();
        },
        succeeded: () => void reserve?.ensure(),
      });
      checkpoints = memory
        ? undefined
        : checkpointThread(sqlite, file, committer, (err) => {
            onError(err);
            disk.failed(err);
          });
      return disk;
    },
    async stop() {
      await checkpoints?.stop();
      await wal?.close();
    },
  };
}

/** A read-only connection of its own, for one long read (see openReader). */
export function sqliteReader(file: string): Kysely<Database> {
  const sqlite = new SQLite(file, { readonly: true, fileMustExist: true });
  sqlite.pragma('busy_timeout = 5000');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }), plugins: [readOnly] });
}

/**
 * Checkpoints (copying the log's pages into the database file, then syncing it) take a few
 * milliseconds every thousand pages or so; SQLite would run them inside whichever COMMIT crossed
 * the line, on the event loop. Here they run on a thread of their own, with its own connection.
 * Should that thread ever stop, SQLite's own checkpoints take over again, so the log stays bounded.
 */
function checkpointThread(sqlite: SQLite.Database, file: string, committer: GroupCommitter, onError: (err: Error) => void): { stop: () => Promise<void>; reclaim: () => void } {
  const workerData = { file, thresholdBytes: 4 * 1024 * 1024, restartBytes: 32 * 1024 * 1024, everyMs: 100 };
  const worker = new Worker(new URL('./checkpointer.js', import.meta.url), { workerData });
  // A command that never closes its store must still be able to exit.
  worker.unref();
  sqlite.pragma('wal_autocheckpoint = 0');
  let stopping = false;
  let exited = false;
  const command = (c: CheckpointCommand) => worker.postMessage(c);
  worker.on('message', (message: CheckpointRequest) => {
    if ('pause' in message) {
      void committer.pause().then(() => command('paused'));
    } else if ('resume' in message) {
      committer.resume();
    } else {
      onError(Object.assign(new Error(`checkpoint: ${message.error}`), { code: message.code }));
    }
  });
  worker.on('error', onError);
  worker.on('exit', () => {
    exited = true;
    // Writes it was holding back go on, whatever became of the restart.
    committer.resume();
    if (!stopping) {
      sqlite.pragma('wal_autocheckpoint = 1000');
    }
  });
  return {
    /** A full disk: hold writes and truncate the log once (see checkpointer.ts). */
    reclaim: () => {
      if (!stopping && !exited) command('reclaim');
    },
    stop: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        if (exited) {
          resolve();
          return;
        }
        // Held again while it stops, or a process with nothing else left would exit first.
        worker.ref();
        worker.once('exit', () => resolve());
        command('stop');
      }),
  };
}

/**
 * fdatasync of SQLite's write-ahead log on libuv's thread pool: what synchronous=FULL does
 * inline at every commit. The log is one file for as long as a connection is open: SQLite
 * resets it in place after a checkpoint and deletes it only when the last connection closes.
 */
async function walSync(file: string): Promise<{ sync: () => Promise<void>; close: () => Promise<void> }> {
  const log = `${file}-wal`;
  const handle = await open(log, 'r');
  // The log's directory entry must be durable too, or a power cut could lose the whole file.
  const dir = await open(path.dirname(path.resolve(log)), 'r');
  await dir.sync().finally(() => dir.close());
  return { sync: () => handle.datasync(), close: () => handle.close() };
}
