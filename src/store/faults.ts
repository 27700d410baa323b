/**
 * What a database error means for the people waiting on it: the database cannot be reached
 * (try again shortly), or the disk under it is full or failing (an operator must act). Anything
 * else is a fault in this service. The HTTP layer and readiness both answer from this.
 */
export type StoreFaultKind = 'unavailable' | 'disk_full' | 'io';

/** In words, for log lines and readiness. */
export const FAULT_NAMES: Record<StoreFaultKind, string> = {
  unavailable: 'database unreachable',
  disk_full: 'disk full',
  io: 'disk I/O error',
};

/** PostgreSQL SQLSTATEs and Node/SQLite codes, by what they mean here. */
const CODES: Record<string, StoreFaultKind> = {
  // PostgreSQL: the server shutting down, starting up, or out of connection slots.
  '57P01': 'unavailable',
  '57P02': 'unavailable',
  '57P03': 'unavailable',
  '53300': 'unavailable',
  '53100': 'disk_full',
  '58030': 'io',
  // The network between here and PostgreSQL.
  ECONNREFUSED: 'unavailable',
  ECONNRESET: 'unavailable',
  ETIMEDOUT: 'unavailable',
  EPIPE: 'unavailable',
  EHOSTUNREACH: 'unavailable',
  ENETUNREACH: 'unavailable',
  ENOTFOUND: 'unavailable',
  EAI_AGAIN: 'unavailable',
  // SQLite: another process held the lock past busy_timeout.
  SQLITE_BUSY: 'unavailable',
  SQLITE_FULL: 'disk_full',
  ENOSPC: 'disk_full',
  EIO: 'io',
};

/** node-postgres says these in words only, with no code. */
const PG_CONNECTION_LOST = /^Connection terminated|not queryable|timeout exceeded when trying to connect/;

export function storeFault(err: unknown): StoreFaultKind | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    // PostgreSQL's class 08 is "connection exception"; SQLite's extended I/O codes are SQLITE_IOERR_*.
    const kind = CODES[code] ?? (/^08[0-9A-Z]{3}$/.test(code) ? 'unavailable' : code.startsWith('SQLITE_IOERR') ? 'io' : undefined);
    if (kind) return kind;
  }
  if (PG_CONNECTION_LOST.test(err.message)) return 'unavailable';
  return err.cause === undefined ? undefined : storeFault(err.cause);
}

/** A log line's words for a database error: what it means, not what the driver called it. */
export function describeStoreError(err: Error): string {
  const kind = storeFault(err);
  return kind === 'unavailable' ? 'database connection lost; reconnecting' : kind ? `database ${FAULT_NAMES[kind]}` : 'database error';
}

export interface DiskFault {
  kind: 'disk_full' | 'io';
  message: string;
  since: string;
}

/**
 * Remembers the disk fault writes last met, until one succeeds again: readiness reports it
 * meanwhile. On a full disk `full` runs, to release space held back for getting out of it.
 */
export class DiskWatch {
  private current: DiskFault | undefined;

  constructor(private readonly hooks: { full?: () => void; succeeded?: () => void } = {}) {}

  get fault(): DiskFault | undefined {
    return this.current;
  }

  watch<T>(write: Promise<T>): Promise<T> {
    return write.then(
      (value) => {
        this.current = undefined;
        this.hooks.succeeded?.();
        return value;
      },
      (err: unknown) => {
        this.failed(err);
        throw err;
      },
    );
  }

  /** A write or checkpoint failed: a disk fault is remembered, anything else is not this watch's. */
  failed(err: unknown): void {
    const kind = storeFault(err);
    if (kind !== 'disk_full' && kind !== 'io') return;
    this.current ??= { kind, message: (err as Error).message, since: new Date().toISOString() };
    if (kind === 'disk_full') this.hooks.full?.();
  }
}
