import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { DiskWatch } from './faults.js';
import { migrate } from './migrate.js';
import { postgresNotifier } from './notifier.js';
import type { Backend } from './backend.js';
import { guardDialect, readOnly } from './units.js';
import type { Database } from './schema.js';

/** How long a connection attempt to PostgreSQL may take before the request gets a 503. */
export const CONNECT_TIMEOUT_MS = 5000;

export const isPostgresUrl = (url: string): boolean => /^postgres(ql)?:\/\//.test(url);

/** Where a PostgreSQL URL points, without its password. */
export function describePostgres(url: string): string {
  const u = new URL(url);
  return `postgres://${u.hostname}:${u.port || 5432}${u.pathname}`;
}

/** A pool of connections, migrated; notifications on a connection of their own. */
export async function postgresBackend(url: string, onError: (err: Error) => void): Promise<Backend> {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // A connection the server drops (a restart, a failover) must not crash the process. The pool
  // listens for errors only while a connection is idle; one dropped while checked out, between
  // the queries of a transaction, would emit an error nobody heard. So each connection gets a
  // listener of its own for its whole life, and the pool's (idle) one need say nothing more.
  pool.on('connect', (client) => client.on('error', onError));
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: guardDialect(new PostgresDialect({ pool })) });
  await migrate(db);
  const notifier = postgresNotifier({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS }, db, onError);
  return {
    dialect: 'postgres',
    location: describePostgres(url),
    db,
    notifier,
    // COMMIT returns once PostgreSQL has flushed its log: nothing more to sync here.
    attach: async () => new DiskWatch(),
    stop: () => notifier.close(),
  };
}

/** One connection for one long read (see openReader). */
export function postgresReader(url: string): Kysely<Database> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  // A dropped connection fails the query in progress, and so the read; it must not crash.
  pool.on('error', () => undefined);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [readOnly] });
}
