import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type SqliteDatabase, type SqliteStatement } from 'kysely';
import pg from 'pg';
import { GroupCommitter, type Write } from './group-commit.js';
import type { CheckpointCommand, CheckpointRequest } from './checkpointer.js';
import { migrations } from './migrations.js';
import { appendTraces } from './traces.js';
import type { TraceDraft } from '../traces/trace.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where the data lives, for logs and the README: a file path or host/database, never credentials. */
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
  close(): Promise<void>;
}

export interface Notifier {
  publish(channel: string, payload: unknown): Promise<void>;
  subscribe(channel: string, handler: (payload: unknown) => void): Promise<void>;
  close(): Promise<void>;
}

/** One process, one SQLite file: an in-process emitter is every instance there is. */
function localNotifier(): Notifier {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    publish: async (channel, payload) => void emitter.emit(channel, payload),
    subscribe: async (channel, handler) => void emitter.on(channel, handler),
    close: async () => void emitter.removeAllListeners(),
  };
}

/**
 * PostgreSQL LISTEN/NOTIFY: a dedicated connection listens; publishing is pg_notify. If the
 * listening connection drops (a failover, a restart), it reconnects and listens again.
 */
function postgresNotifier(url: string, db: Kysely<Database>, onError: (err: Error) => void): Notifier {
  const handlers = new Map<string, ((payload: unknown) => void)[]>();
  let client: pg.Client | undefined;
  let closed = false;

  async function connect(): Promise<void> {
    const next = new pg.Client({ connectionString: url });
    next.on('notification', (message) => {
      for (const h of handlers.get(message.channel) ?? []) h(JSON.parse(message.payload ?? 'null'));
    });
    next.on('error', (err) => {
      onError(err);
      if (client === next && !closed) {
        client = undefined;
        setTimeout(() => void connect().catch(onError), 1000).unref();
      }
    });
    await next.connect();
    for (const channel of handlers.keys()) await next.query(`LISTEN ${next.escapeIdentifier(channel)}`);
    client = next;
  }

  return {
    async publish(channel, payload) {
      await sql`select pg_notify(${channel}, ${JSON.stringify(payload)})`.execute(db);
    },
    async subscribe(channel, handler) {
      const fresh = !handlers.has(channel);
      handlers.set(channel, [...(handlers.get(channel) ?? []), handler]);
      if (!client) await connect();
      else if (fresh) await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
    },
    async close() {
      closed = true;
      await client?.end().catch(() => undefined);
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
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    // An idle connection the server drops must not crash the process; the pool replaces it.
    pool.on('error', onError);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    await migrate(db);
    const notifier = postgresNotifier(url, db, onError);
    const committer = new GroupCommitter(db, { appendTraces: (trx, drafts) => appendTraces(trx, 'postgres', drafts) });
    return {
      db,
      dialect: 'postgres',
      location: describePostgres(url),
      write: (work) => committer.write(work),
      append: (draft) => committer.append(draft),
      commits: committer.stats,
      notifier,
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
  const checkpoints = file === ':memory:' ? undefined : checkpointThread(sqlite, file, committer, onError);
  return {
    db,
    dialect: 'sqlite',
    location: file,
    write: (work) => committer.write(work),
    append: (draft) => committer.append(draft),
    commits: committer.stats,
    notifier: localNotifier(),
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
function checkpointThread(sqlite: SQLite.Database, file: string, committer: GroupCommitter, onError: (err: Error) => void): { stop: () => Promise<void> } {
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
      onError(new Error(`checkpoint: ${message.error}`));
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

/** Cheap round trip for the readiness check. */
export async function ping(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}
