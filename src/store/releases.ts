import { randomUUID } from 'node:crypto';
import type { Selectable, Transaction } from 'kysely';
import type { Database, Executor, ReleaseAction, ReleaseActivationTable, ReleaseTable } from './schema.js';

export type ReleaseRow = Selectable<ReleaseTable>;
export type ActivationRow = Selectable<ReleaseActivationTable>;

/**
 * Releases and their activations. Changes take a unit's transaction (store.write), so an
 * activation answered 200 is on disk, the log synced, like every other change; reads run on the
 * executor they are given.
 */
export function releaseRepository(): ReleaseRepository {
  return {
    async get(db: Executor, id: string): Promise<ReleaseRow | undefined> {
      return db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst();
    },

    /** Newest first. */
    async list(db: Executor): Promise<ReleaseRow[]> {
      return db.selectFrom('releases').selectAll().orderBy('created_at', 'desc').execute();
    },

    async insert(trx: Transaction<Database>, row: ReleaseRow): Promise<void> {
      await trx.insertInto('releases').values(row).execute();
    },

    /** Records the sign-off unless the release already has one: false if it had. */
    async signOff(trx: Transaction<Database>, id: string, approver: string, at: string): Promise<boolean> {
      const { numUpdatedRows } = await trx.updateTable('releases').set({ approver, signed_off_at: at }).where('id', '=', id).where('signed_off_at', 'is', null).executeTakeFirst();
      return numUpdatedRows > 0n;
    },

    /** Every activation and deactivation, oldest first. */
    async activations(db: Executor): Promise<ActivationRow[]> {
      return db.selectFrom('release_activations').selectAll().orderBy('at').execute();
    },

    /** The last switch recorded on this database, if any. */
    async lastSwitch(db: Executor): Promise<ActivationRow | undefined> {
      return db.selectFrom('release_activations').selectAll().orderBy('at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
    },

    async recordSwitch(trx: Transaction<Database>, releaseId: string, action: ReleaseAction, by: string, at: string): Promise<void> {
      await trx.insertInto('release_activations').values({ id: randomUUID(), release_id: releaseId, at, by, action }).execute();
    },
  };
}

/** Releases and their activations, as stored. */
export interface ReleaseRepository {
  get(db: Executor, id: string): Promise<ReleaseRow | undefined>;
  /** Newest first. */
  list(db: Executor): Promise<ReleaseRow[]>;
  insert(trx: Transaction<Database>, row: ReleaseRow): Promise<void>;
  /** Records the sign-off unless the release already has one: false if it had. */
  signOff(trx: Transaction<Database>, id: string, approver: string, at: string): Promise<boolean>;
  /** Every activation and deactivation, oldest first. */
  activations(db: Executor): Promise<ActivationRow[]>;
  /** The last switch recorded on this database, if any. */
  lastSwitch(db: Executor): Promise<ActivationRow | undefined>;
  recordSwitch(trx: Transaction<Database>, releaseId: string, action: ReleaseAction, by: string, at: string): Promise<void>;
}
