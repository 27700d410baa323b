import { sql, type Kysely } from 'kysely';
import type { Backend } from './backend.js';
import type { DiskFault } from './faults.js';
import { GroupCommitter, type Write } from './group-commit.js';
import type { Notifier } from './notifier.js';
import { isPostgresUrl, postgresBackend, postgresReader } from './postgres.js';
import type { Database, Dialect } from './schema.js';
import { sqliteBackend, sqlitePath, sqliteReader } from './sqlite.js';
import { appendTraces } from './traces.js';
import { readOnly } from './units.js';
import type { TraceDraft } from '../traces/trace.js';

/**
 * The database, as the rest of the service sees it: reads through `read`, every change through
 * `write`. There is no other handle: a change made around the committer would skip the sync that
 * makes a commit durable before anyone hears back (see units.ts for how that is enforced).
 */
export interface Store {
  /**
   * For reads outside a unit of work: refuses changes, and refuses to run at all from inside a
   * unit of work (which reads through its own transaction).
   */
  read: Kysely<Database>;
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
  /** Told of each group commit once it is durable: its writes and its latency in seconds. */
  observeCommits(listener: GroupCommitter['onCommit']): void;
  /** Messages to every instance on this database (consoles on any instance hear every change). */
  notifier: Notifier;
  /** The disk fault (full, failing) the last write met, until a write succeeds again. */
  diskFault(): DiskFault | undefined;
  /** A small real write, for readiness to learn whether writes succeed again. */
  probe(): Promise<void>;
  close(): Promise<void>;
}

export interface StoreOptions {
  onError?: (err: Error) => void;
  /** Store compact traces packed (the default), or as text (see TRACE_STORAGE in config.ts). */
  packTraces?: boolean;
}

/** Opens (and migrates) the database a URL names: PostgreSQL, or else a SQLite file. */
export async function openStore(url: string, { onError = () => undefined, packTraces = true }: StoreOptions = {}): Promise<Store> {
  const backend: Backend = isPostgresUrl(url) ? await postgresBackend(url, onError) : await sqliteBackend(sqlitePath(url), onError);
  const { db, dialect } = backend;
  const committer = new GroupCommitter(db, { appendTraces: (trx, drafts) => appendTraces(trx, dialect, drafts, packTraces), sync: backend.sync });
  const disk = await backend.attach(committer);
  const write = <T>(work: Write<T>) => disk.watch(committer.write(work));
  return {
    read: db.withPlugin(readOnly),
    dialect,
    location: backend.location,
    write,
    append: (draft) => disk.watch(committer.append(draft)),
    commits: committer.stats,
    observeCommits: (listener) => {
      committer.onCommit = listener;
    },
    notifier: backend.notifier,
    diskFault: () => disk.fault,
    probe: () => write(probe),
    close: async () => {
      await committer.drain();
      await backend.stop();
      await db.destroy();
    },
  };
}

/**
 * A read-only connection of its own for one long read on another thread (a verification of the
 * trace chain): the store's connection and its queue of writes never wait on it.
 */
export function openReader(url: string): { read: Kysely<Database>; close: () => Promise<void> } {
  const read = isPostgresUrl(url) ? postgresReader(url) : sqliteReader(sqlitePath(url));
  return { read, close: () => read.destroy() };
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
export async function ping(read: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(read);
}
