import { randomUUID } from 'node:crypto';
import type { Selectable, Transaction } from 'kysely';
import { OPEN_STATUSES, type CallbackAction, type CallbackStatus } from '../callbacks/vocabulary.js';
import type { CallbackRequestTable, Database, Executor } from './schema.js';

export type CallbackRow = Selectable<CallbackRequestTable>;

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export type { CallbackStatus } from '../callbacks/vocabulary.js';

/** What a queue page shows of each request: never the contact details, read one request at a time. */
const QUEUE_COLUMNS = [
  'id',
  'assessment_id',
  'status',
  'disposition',
  'within',
  'queue_band',
  'due_at',
  'created_at',
  'attempts',
  'needs_review',
  'review_reason',
  'answers_changed',
  'claimed_by',
  'lease_until',
] as const;
export type QueueRow = Pick<CallbackRow, (typeof QUEUE_COLUMNS)[number]>;

/** A place in the queue's order: band (escalated first), due time, creation, id. */
export interface QueuePosition {
  band: number;
  dueAt: string;
  createdAt: string;
  id: string;
}

export interface QueueFilter {
  statuses: CallbackStatus[];
  overdueAt?: string;
  after?: QueuePosition;
  limit: number;
}

export interface CallbackEvent {
  id: string;
  callbackId: string;
  assessmentId: string;
  action: CallbackAction;
  handlerId: string | null;
  at: string;
  detail: Record<string, unknown> | null;
}

/**
 * The callback queue. Claims are single conditional UPDATEs, so of any number of concurrent
 * claimers exactly one changes the row; everyone else sees who holds it. Each method runs on the
 * executor it is given: store.read, or a unit's transaction.
 */
export function callbackRepository(): CallbackRepository {
  return {
    async insert(trx: Transaction<Database>, row: CallbackRow): Promise<void> {
      await trx.insertInto('callback_requests').values(row).execute();
    },

    async get(db: Executor, id: string): Promise<CallbackRow | undefined> {
      return db.selectFrom('callback_requests').selectAll().where('id', '=', id).executeTakeFirst();
    },

    async forAssessment(db: Executor, assessmentId: string): Promise<CallbackRow | undefined> {
      return db.selectFrom('callback_requests').selectAll().where('assessment_id', '=', assessmentId).executeTakeFirst();
    },

    async anyLeaseExpired(db: Executor, now: string): Promise<boolean> {
      const row = await db.selectFrom('callback_requests').select('id').where('status', '=', 'claimed').where('lease_until', '<', now).limit(1).executeTakeFirst();
      return row !== undefined;
    },

    /**
     * Claims held past their lease go back to the queue. Returns the rows as they were before,
     * and only those this call released, so two instances never both record the same expiry.
     */
    async expireLeases(trx: Transaction<Database>, now: string): Promise<Pick<CallbackRow, 'id' | 'assessment_id' | 'claimed_by' | 'lease_until'>[]> {
      const expired = await trx.selectFrom('callback_requests').select(['id', 'assessment_id', 'claimed_by', 'lease_until']).where('status', '=', 'claimed').where('lease_until', '<', now).execute();
      if (expired.length === 0) {
        return [];
      }
      const released = await trx
        .updateTable('callback_requests')
        .set({ status: 'waiting', claimed_by: null, lease_until: null, updated_at: now })
        .where(
          'id',
          'in',
          expired.map((r) => r.id),
        )
        .where('status', '=', 'claimed')
        .where('lease_until', '<', now)
        .returning('id')
        .execute();
      const ids = new Set(released.map((r) => r.id));
      return expired.filter((r) => ids.has(r.id));
    },

    /** Takes the claim if the request is waiting, or already held by this handler. */
    async claim(trx: Transaction<Database>, id: string, handlerId: string, leaseUntil: string, now: string): Promise<boolean> {
      const result = await trx
        .updateTable('callback_requests')
        .set({ status: 'claimed', claimed_by: handlerId, lease_until: leaseUntil, updated_at: now })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('status', '=', 'waiting'), eb.and([eb('status', '=', 'claimed'), eb('claimed_by', '=', handlerId)])]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Changes a request only while this handler holds an unexpired claim on it. */
    async updateHeld(trx: Transaction<Database>, id: string, handlerId: string, now: string, changes: Partial<CallbackRow>): Promise<boolean> {
      const result = await trx
        .updateTable('callback_requests')
        .set({ ...changes, updated_at: now })
        .where('id', '=', id)
        .where('status', '=', 'claimed')
        .where('claimed_by', '=', handlerId)
        .where('lease_until', '>=', now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Changes a request while it is still open (waiting or claimed), whoever holds it. */
    async updateOpen(trx: Transaction<Database>, id: string, now: string, changes: Partial<CallbackRow>): Promise<boolean> {
      const result = await trx
        .updateTable('callback_requests')
        .set({ ...changes, updated_at: now })
        .where('id', '=', id)
        .where('status', 'in', OPEN_STATUSES)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /**
     * Holds the request's row until the transaction ends (on PostgreSQL; SQLite has one writer),
     * for an event that changes nothing else: events of one request are numbered one at a time.
     */
    async lock(trx: Transaction<Database>, id: string): Promise<void> {
      await trx
        .updateTable('callback_requests')
        .set((eb) => ({ updated_at: eb.ref('updated_at') }))
        .where('id', '=', id)
        .execute();
    },

    async cancel(trx: Transaction<Database>, id: string, now: string): Promise<boolean> {
      const result = await trx
        .updateTable('callback_requests')
        .set({ status: 'cancelled', claimed_by: null, lease_until: null, updated_at: now, completed_at: now })
        .where('id', '=', id)
        .where('status', 'in', OPEN_STATUSES)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /**
     * A page of the queue in order: escalated requests first, then by due time. Each status is read in order from the (status, due_at,
     * created_at, id) index, a page's worth at most, and the pages are merged here: one query
     * over several statuses would sort every open request, and a UNION ALL of the per-status
     * queries sorts its branches again (half of that query's cost). The reads share one
     * transaction (a snapshot on PostgreSQL; on SQLite's single connection, no commit can come
     * between them), so a request that changes status meanwhile is on the page exactly once.
     * That transaction is its own, so it reads through store.read, never a unit's transaction.
     */
    async queue(db: Executor, filter: QueueFilter): Promise<QueueRow[]> {
      const pageOf = (executor: Executor, status: CallbackStatus) => {
        let q = executor.selectFrom('callback_requests').select(QUEUE_COLUMNS).where('status', '=', status);
        if (filter.overdueAt) q = q.where('due_at', '<', filter.overdueAt);
        const after = filter.after;
        // A row-value comparison lets the index seek straight to the cursor.
        if (after) q = q.where((eb) => eb(eb.refTuple('queue_band', 'due_at', 'created_at', 'id'), '>', eb.tuple(after.band, after.dueAt, after.createdAt, after.id)));
        return q.orderBy('queue_band').orderBy('due_at').orderBy('created_at').orderBy('id').limit(filter.limit).execute();
      };
      if (filter.statuses.length === 1) {
        return pageOf(db, filter.statuses[0]!);
      }
      const pages = await db
        .transaction()
        .setIsolationLevel('repeatable read')
        .execute(async (trx) => {
          const read: QueueRow[][] = [];
          for (const status of filter.statuses) read.push(await pageOf(trx, status));
          return read;
        });
      // The columns are ISO 8601 times and UUIDs, all of one format, so comparing them as
      // plain strings is the order the database's index keeps.
      return pages
        .flat()
        .sort((a, b) => a.queue_band - b.queue_band || compare(a.due_at, b.due_at) || compare(a.created_at, b.created_at) || compare(a.id, b.id))
        .slice(0, filter.limit);
    },

    /** Requests not yet completed or cancelled, oldest first. */
    async open(db: Executor): Promise<Pick<CallbackRow, 'id' | 'status' | 'within' | 'due_at' | 'created_at'>[]> {
      return db.selectFrom('callback_requests').select(['id', 'status', 'within', 'due_at', 'created_at']).where('status', 'in', OPEN_STATUSES).orderBy('created_at').execute();
    },

    /**
     * Adds an event to a request's history. Every caller has changed (or locked) the request's
     * row in this transaction first, so no other transaction numbers an event of it meanwhile.
     */
    async record(
      trx: Transaction<Database>,
      row: Pick<CallbackRow, 'id' | 'assessment_id'>,
      action: CallbackAction,
      handlerId: string | null,
      at: string,
      detail?: Record<string, unknown>,
    ): Promise<CallbackEvent> {
      const last = await trx
        .selectFrom('callback_events')
        .select((eb) => eb.fn.max('seq').as('seq'))
        .where('callback_id', '=', row.id)
        .executeTakeFirst();
      const seq = Number(last?.seq ?? 0) + 1;
      const event = { id: randomUUID(), callback_id: row.id, assessment_id: row.assessment_id, action, handler_id: handlerId, at, detail: detail ? JSON.stringify(detail) : null, seq };
      await trx.insertInto('callback_events').values(event).execute();
      return { id: event.id, callbackId: row.id, assessmentId: row.assessment_id, action, handlerId, at, detail: detail ?? null };
    },

    async history(db: Executor, assessmentId: string): Promise<CallbackEvent[]> {
      const rows = await db.selectFrom('callback_events').selectAll().where('assessment_id', '=', assessmentId).orderBy('seq').execute();
      return rows.map((r) => ({
        id: r.id,
        callbackId: r.callback_id,
        assessmentId: r.assessment_id,
        action: r.action,
        handlerId: r.handler_id,
        at: r.at,
        detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
      }));
    },
  };
}

export interface CallbackRepository {
  insert(trx: Transaction<Database>, row: CallbackRow): Promise<void>;
  get(db: Executor, id: string): Promise<CallbackRow | undefined>;
  forAssessment(db: Executor, assessmentId: string): Promise<CallbackRow | undefined>;
  anyLeaseExpired(db: Executor, now: string): Promise<boolean>;
  /**
   * Claims held past their lease go back to the queue. Returns the rows as they were before,
   * and only those this call released, so two instances never both record the same expiry.
   */
  expireLeases(trx: Transaction<Database>, now: string): Promise<Pick<CallbackRow, 'id' | 'assessment_id' | 'claimed_by' | 'lease_until'>[]>;
  /** Takes the claim if the request is waiting, or already held by this handler. */
  claim(trx: Transaction<Database>, id: string, handlerId: string, leaseUntil: string, now: string): Promise<boolean>;
  /** Changes a request only while this handler holds an unexpired claim on it. */
  updateHeld(trx: Transaction<Database>, id: string, handlerId: string, now: string, changes: Partial<CallbackRow>): Promise<boolean>;
  /** Changes a request while it is still open (waiting or claimed), whoever holds it. */
  updateOpen(trx: Transaction<Database>, id: string, now: string, changes: Partial<CallbackRow>): Promise<boolean>;
  /**
   * Holds the request's row until the transaction ends (on PostgreSQL; SQLite has one writer),
   * for an event that changes nothing else: events of one request are numbered one at a time.
   */
  lock(trx: Transaction<Database>, id: string): Promise<void>;
  cancel(trx: Transaction<Database>, id: string, now: string): Promise<boolean>;
  /**
   * A page of the queue in order: escalated requests first, then by due time. Each status is read in order from the (status, due_at,
   * created_at, id) index, a page's worth at most, and the pages are merged here: one query
   * over several statuses would sort every open request, and a UNION ALL of the per-status
   * queries sorts its branches again (half of that query's cost). The reads share one
   * transaction (a snapshot on PostgreSQL; on SQLite's single connection, no commit can come
   * between them), so a request that changes status meanwhile is on the page exactly once.
   * That transaction is its own, so it reads through store.read, never a unit's transaction.
   */
  queue(db: Executor, filter: QueueFilter): Promise<QueueRow[]>;
  /** Requests not yet completed or cancelled, oldest first. */
  open(db: Executor): Promise<Pick<CallbackRow, 'id' | 'status' | 'within' | 'due_at' | 'created_at'>[]>;
  /**
   * Adds an event to a request's history. Every caller has changed (or locked) the request's
   * row in this transaction first, so no other transaction numbers an event of it meanwhile.
   */
  record(trx: Transaction<Database>, row: Pick<CallbackRow, 'id' | 'assessment_id'>, action: CallbackAction, handlerId: string | null, at: string, detail?: Record<string, unknown>): Promise<CallbackEvent>;
  history(db: Executor, assessmentId: string): Promise<CallbackEvent[]>;
}
