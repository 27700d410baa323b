import type { Kysely } from 'kysely';
import type { DiskWatch } from './faults.js';
import type { GroupCommitter } from './group-commit.js';
import type { Notifier } from './notifier.js';
import type { Database, Dialect } from './schema.js';

/** What each dialect brings to the store (sqlite.ts, postgres.ts); store.ts builds the rest on it. */
export interface Backend {
  dialect: Dialect;
  location: string;
  /** Migrated, its connections refused inside a unit of work (units.ts): the committer's alone. */
  db: Kysely<Database>;
  notifier: Notifier;
  /** Makes each commit durable where COMMIT alone does not (see GroupCommitOptions.sync). */
  sync?: () => Promise<void>;
  /** Starts what runs beside the committer; the watch remembers disk faults writes meet. */
  attach(committer: GroupCommitter): Promise<DiskWatch>;
  /** Stops it, once the committer has drained, before the connections close. */
  stop(): Promise<void>;
}
