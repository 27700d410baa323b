import { EventEmitter } from 'node:events';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type SqliteDatabase, type SqliteStatement } from 'kysely';
import pg from 'pg';
import { GroupCommitter, type Write } from './group-commit.js';
import type { CheckpointCommand, CheckpointRequest } from './checkpointer.js';
import { diskReserve } from './disk-reserve.js';
import { DiskWatch, type DiskFault } from './faults.js';
import { migrations } from './migrations.js';
import { appendTraces } from './traces.js';
import type { TraceDraft } from '../traces/trace.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where the data lives, for logs and the start-up line: a file path or host/database, never credentials. */
  location: string;
  /**
   * Every change goes through here: one all-or-nothing unit of work, durable when the promise
   * resolves. Units arriving together share a commit (see GroupCommitter).
   */
  write<T>(work: Write<T>): Promise<T>;
  /** A trace with no other change to go with it, durable when the promise resolves. */
  append(draft: TraceDraft): Promise<void>;
  commits: GroupCommitter['stats'];
  /** Messages to every instance on this database (consoles on any instance hear every change). */
  notifier: Notifier;
  /** The disk fault (full, failing) the last write met, until a write succeeds again. */
  diskFault(): DiskFault | undefined;
  /** A small real write, for readiness to learn whether writes succeed again. */
  probe(): Promise<void>;
  close(): Promise<void>;
}

export interface Notifier {
  publish(channel: string, payload: unknown): Promise<void>;
  subscribe(channel: string, handler: (payload: unknown) => void): Promise<void>;
  /** Why messages from other instances may be missed just now (the listener is down), or undefined. */
  deaf(): string | undefined;
  /** Runs once listening again after an outage: whatever was published meanwhile was missed. */
  onReconnect(handler: () => void): void;
  close(): Promise<void>;
}

/** One process, one SQLite file: an in-process emitter is every instance there is. */
function localNotifier(): Notifier {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    publish: async (channel, payload) => void emitter.emit(channel, payload),
    subscribe: async (channel, handler) => void emitter.on(channel, handler),
    deaf: () => undefined,
    onReconnect: () => undefined,
    close: async () => void emitter.removeAllListeners(),
  };
}

/** How long a connection attempt to PostgreSQL may take before the request gets a 503. */
const CONNECT_TIMEOUT_MS = 5000;
/** The listener's reconnection backoff: quick at first, then once a second for as long as it takes. */
const RELISTEN_FIRST_MS = 100;
const RELISTEN_MAX_MS = 1000;

/**
 * PostgreSQL LISTEN/NOTIFY: a dedicated connection listens; publishing is pg_notify. If the
 * listening connection drops (a failover, a restart), it reconnects and listens again, with a
 * capped backoff, for as long as it takes; then onReconnect handlers re-read what they may have
 * missed, since a message published while nobody listened is gone.
 */
function postgresNotifier(url: string, db: Kysely<Database>, onError: (err: Error) => void): Notifier {
  const handlers = new Map<string, ((payload: unknown) => void)[]>();
  const reconnected: (() => void)[] = [];
  let client: pg.Client | undefined;
  let down: string | undefined = 'not listening yet';
  let retry: NodeJS.Timeout | undefined;
  let closed = false;

  async function connect(): Promise<void> {
    const next = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    next.on('notification', (message) => {
      for (const h of handlers.get(message.channel) ?? []) h(JSON.parse(message.payload ?? 'null'));
    });
    next.on('error', (err) => {
      if (next === client) onError(err);
      lost(next, err.message);
    });
    next.on('end', () => lost(next, 'connection ended'));
    try {
      await next.connect();
      for (const channel of handlers.keys()) await next.query(`LISTEN ${next.escapeIdentifier(channel)}`);
    } catch (err) {
      void next.end().catch(() => undefined);
      throw err;
    }
    client = next;
    down = undefined;
  }

  function lost(which: pg.Client, why: string): void {
    if (which !== client || closed) return;
    client = undefined;
    down = why;
    void which.end().catch(() => undefined);
    relisten(RELISTEN_FIRST_MS, true);
  }

  function relisten(delay: number, first: boolean): void {
    retry = setTimeout(() => {
      connect().then(
        () => {
          for (const handler of reconnected) handler();
        },
        (err: Error) => {
          if (closed) return;
          down = err.message;
          // One line when an outage starts, not one a second while it lasts.
          if (first) onError(err);
          relisten(Math.min(delay * 2, RELISTEN_MAX_MS), false);
        },
      );
    }, delay);
    // A command that never closes its store must still be able to exit.
    retry.unref();
  }

  return {
    async publish(channel, payload) {
      await sql`select pg_notify(${channel}, ${JSON.stringify(payload)})`.execute(db);
    },
    async subscribe(channel, handler) {
      const fresh = !handlers.has(channel);
      handlers.set(channel, [...(handlers.get(channel) ?? []), handler]);
      // The first subscription connects, and start-up fails if it cannot; while reconnecting,
      // the new channel is listened to on reconnection.
      if (client) {
        if (fresh) await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
      } else if (!retry) {
        await connect();
      }
    },
    deaf: () => down,
    onReconnect: (handler) => void reconnected.push(handler),
    async close() {
      closed = true;
      clearTimeout(retry);
      const last = client;
      client = undefined;
      await last?.end().catch(() => undefined);
    },
  };
}

export const isPostgresUrl = (url: string): boolean => /^postgres(ql)?:\/\//.test(url);

/** Where a PostgreSQL URL points, without its password. */
export function describePostgres(url: string): string {
  const u = new URL(url);
  return `postgres://${u.hostname}:${u.port || 5432}${u.pathname}`;
}

/** `sqlite:./data/triage.db`, `file:...` or a plain path. */
export function sqlitePath(url: string): string {
  return url.replace(/^(sqlite|file):(\/\/)?/, '');
}

export async function openStore(url: string, onError: (err: Error) => void = () => undefined): Promise<Store> {
  if (isPostgresUrl(url)) {
    const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    // A connection the server drops (a restart, a failover) must not crash the process. The pool
    // listens for errors only while a connection is idle; one dropped while checked out, between
    // the queries of a transaction, would emit an error nobody heard. So each connection gets a
    // listener of its own for its whole life, and the pool's (idle) one need say nothing more.
    pool.on('connect', (client) => client.on('error', onError));
    pool.on('error', () => undefined);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    await migrate(db);
    const notifier = postgresNotifier(url, db, onError);
    const committer = new GroupCommitter(db, { appendTraces: (trx, drafts) => appendTraces(trx, 'postgres', drafts) });
    const disk = new DiskWatch();
    const write = <T>(work: Write<T>) => disk.watch(committer.write(work));
    return {
      db,
      dialect: 'postgres',
      location: describePostgres(url),
      write,
      append: (draft) => disk.watch(committer.append(draft)),
      commits: committer.stats,
      notifier,
      diskFault: () => disk.fault,
      probe: () => write(probe),
      close: async () => {
        await committer.drain();
        await notifier.close();
        await db.destroy();
      },
    };
  }
  const file = sqlitePath(url);
  if (file !== ':memory:') {
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
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  await migrate(db);
  const wal = file === ':memory:' ? undefined : await walSync(file);
  const committer = new GroupCommitter(db, { appendTraces: (trx, drafts) => appendTraces(trx, 'sqlite', drafts), sync: wal?.sync });
  const reserve = file === ':memory:' ? undefined : diskReserve(file);
  await reserve?.ensure();
  const disk = new DiskWatch({
    full: () => {
      if (reserve?.release()) onError(new Error(`disk full: released the space reserved beside ${file} so the log can be copied into the database; free space on its file system`));
      checkpoints?.reclaim();
    },
    succeeded: () => void reserve?.ensure(),
  });
  const checkpoints = file === ':memory:' ? undefined : checkpointThread(sqlite, file, committer, (err) => {
    onError(err);
    disk.failed(err);
  });
  const write = <T>(work: Write<T>) => disk.watch(committer.write(work));
  return {
    db,
    dialect: 'sqlite',
    location: file,
    write,
    append: (draft) => disk.watch(committer.append(draft)),
    commits: committer.stats,
    notifier: localNotifier(),
    diskFault: () => disk.fault,
    probe: () => write(probe),
    close: async () => {
      await committer.drain();
      await checkpoints?.stop();
      await wal?.close();
      await db.destroy();
    },
  };
}

/**
 * A connection of its own for one long read on another thread (a verification of the trace
 * chain): it writes nothing, and the store's connection and its queue of writes never wait on it.
 */
export async function openReader(url: string): Promise<{ db: Kysely<Database>; close: () => Promise<void> }> {
  let db: Kysely<Database>;
  if (isPostgresUrl(url)) {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    // A dropped connection fails the query in progress, and so the read; it must not crash.
    pool.on('error', () => undefined);
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  } else {
    const sqlite = new SQLite(sqlitePath(url), { readonly: true, fileMustExist: true });
    sqlite.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  }
  return { db, close: () => db.destroy() };
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

/**
 * Kysely prepares every query afresh, and preparing is a good part of a small query's cost.
 * better-sqlite3 statements can be run again and again, and Kysely runs one query at a time
 * on its single SQLite connection, so statements are kept by their SQL text (the most recently
 * used few hundred).
 */
function withStatementCache(sqlite: SQLite.Database, size = 500): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  return {
    close: () => void sqlite.close(),
    prepare(text: string) {
      let statement = statements.get(text);
      if (statement) {
        statements.delete(text);
      } else {
        statement = withRowsAsLiterals(sqlite.prepare(text));
        if (statements.size >= size) statements.delete(statements.keys().next().value!);
      }
      statements.set(text, statement);
      return statement;
    },
  };
}

/**
 * better-sqlite3 builds each row object from C++, one property at a time: for a queue page (51
 * rows of 11 columns) that took longer than finding and reading the rows. Rows are read as
 * arrays instead and made into objects by a function compiled once per statement from its
 * column names: an object literal, which V8 builds in one go with a fixed shape. The objects are
 * the same as before: own properties in column order, the last of a repeated name winning, and
 * a column named __proto__ setting the prototype, as better-sqlite3's own assignment does.
 *
 * Only for statements that name every column they return. The columns of a `*` follow the
 * schema, which another process (an instance starting up) may migrate while this statement is
 * cached: SQLite then re-prepares it, and names fixed beforehand could label the wrong values.
 */
function withRowsAsLiterals(statement: SQLite.Statement): SqliteStatement {
  if (!statement.reader || statement.source.includes('*')) {
    return statement;
  }
  // The names are SQLite's own, each quoted by JSON.stringify.
  const names = statement.columns().map((c) => c.name);
  const row = new Function('v', `return {${names.map((name, i) => `${JSON.stringify(name)}: v[${i}]`).join(', ')}};`) as (values: unknown[]) => unknown;
  statement.raw(true);
  return {
    reader: true,
    all: (parameters) => (statement.all(parameters) as unknown[][]).map(row),
    run: (parameters) => statement.run(parameters),
    *iterate(parameters) {
      for (const values of statement.iterate(parameters) as IterableIterator<unknown[]>) yield row(values);
    },
  };
}

/**
 * Runs migrations to the latest. Kysely's migrator takes a lock (an advisory lock on PostgreSQL),
 * but several instances starting together can still race to create its own bookkeeping tables,
 * so a failed attempt is retried after a short random pause before giving up.
 */
export async function migrate(db: Kysely<Database>, attempts = 5): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    if (!error) {
      return;
    }
    if (attempt >= attempts) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'the migration lock';
      throw new Error(`database migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 400));
  }
}

/** The write behind Store.probe: one row, rewritten. */
const probe: Write<void> = async (trx) => {
  const at = new Date().toISOString();
  await trx
    .insertInto('store_probe')
    .values({ id: 'readiness', at })
    .onConflict((oc) => oc.column('id').doUpdateSet({ at }))
    .execute();
};

/** Cheap round trip for the readiness check. */
export async function ping(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}
