import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Transaction } from 'kysely';
import { AssessmentChanged, AssessmentNotFound, CallbackConflict, CallbackNotFound, InvalidContact, NoCallbackForAssessment, NotAllowed } from '../errors.js';
import { durationSeconds } from '../rulesets/duration.js';
import { assessmentRepository, type Assessment } from '../store/assessments.js';
import { callbackRepository, type CallbackEvent, type CallbackRow, type QueuePosition } from '../store/callbacks.js';
import { answersChangedOf, callbackRequest, queuedCallback, type AnswersChanged, type CallbackRequest, type CompletionOutcome, type QueuedCallback } from './request.js';
import { OPEN_STATUSES, type CallbackAction, type CallbackStatus } from './vocabulary.js';
import type { Store } from '../store/store.js';
import type { Database } from '../store/schema.js';
import type { ContactCipher } from '../security/contact-crypto.js';
import { CANCEL_OVERRIDE, type Principal } from '../security/roles.js';
import { decisionSummary } from '../triage/decision.js';
import { compareUrgency, type Urgency } from '../triage/urgency.js';
import { checkUkPhone } from './phone.js';

/** After this many unanswered calls a request is flagged for clinical review (and stays queued). */
export const MAX_ATTEMPTS_BEFORE_REVIEW = 3;

/** Queue bands, read first in the queue's order: an escalation after asking goes above everything. */
export const ESCALATED_BAND = 0;
export const NORMAL_BAND = 1;

export const QUEUE_CHANGES = ['added', 'claimed', 'released', 'attempted', 'completed', 'cancelled', 'renewed', 'urgency_raised', 'escalated', 'answers_changed'] as const;
export type QueueChange = { type: (typeof QUEUE_CHANGES)[number]; id: string; status: CallbackStatus };

/** A request kept in step with a new step of its assessment, and what consoles are told once it commits. */
export interface Followed {
  callback: QueuedCallback;
  change: QueueChange;
}

/** Who acts on the queue. */
export type Actor = Pick<Principal, 'id' | 'roles'>;

/** The urgency a request holds now: an escalated request holds the escalation's. */
const urgencyOf = (row: Pick<CallbackRow, 'queue_band' | 'within'>): Urgency => ({ kind: row.queue_band === ESCALATED_BAND ? 'escalate' : 'callback', within: row.within });

const isOpen = (row: Pick<CallbackRow, 'status'>): boolean => (OPEN_STATUSES as readonly CallbackStatus[]).includes(row.status);

const dueAfter = (decidedAt: string, within: string): string => new Date(Date.parse(decidedAt) + durationSeconds(within) * 1000).toISOString();

export interface CallbackServiceOptions {
  leaseSeconds: number;
  /** Seals name and phone before they are stored; the database alone never reveals them. */
  cipher: ContactCipher;
  /** Accept Ofcom's drama numbers (development and tests; never production). */
  dramaNumbers?: boolean;
  now?: () => Date;
}

/** Where queue changes are published to every instance. */
const CHANNEL = 'callback_changes';

/**
 * The callback queue's rules: who may do what to a request, when it is due, and the audit trail
 * of every handler action. Every change commits with its event before anyone is told.
 */
export function callbackService(store: Store, options: CallbackServiceOptions): CallbackService {
  const { read } = store;
  const callbacks = callbackRepository();
  const assessments = assessmentRepository();
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  const clock = options.now ?? (() => new Date());

  // Changes go through the store's notifier, so consoles connected to any instance hear them.
  const announce = (change: QueueChange) => store.notifier.publish(CHANNEL, change);

  async function expire(now: string): Promise<void> {
    // Every queue read comes here first; a plain read keeps the usual case (nothing has
    // expired) out of the write path.
    if (!(await callbacks.anyLeaseExpired(read, now))) {
      return;
    }
    const released = await store.write(async (trx) => {
      const rows = await callbacks.expireLeases(trx, now);
      for (const row of rows) {
        await record(trx, row, 'lease_expired', row.claimed_by, now, { leaseUntil: row.lease_until });
      }
      return rows;
    });
    for (const row of released) {
      await announce({ type: 'released', id: row.id, status: 'waiting' });
    }
  }

  const reveal = (row: CallbackRow): CallbackRow => ({
    ...row,
    name: options.cipher.open(row.name),
    phone: options.cipher.open(row.phone),
    completion_notes: row.completion_notes === null ? null : options.cipher.open(row.completion_notes),
  });

  /**
   * Free text typed by staff (a cancel reason) is personal data like a phone number: it is
   * sealed into the event's `sealed` field and opened only where contact details are shown.
   */
  const record = (
    trx: Transaction<Database>,
    row: Pick<CallbackRow, 'id' | 'assessment_id'>,
    action: CallbackAction,
    handlerId: string | null,
    at: string,
    detail?: Record<string, unknown>,
    freeText?: Record<string, string>,
  ) => callbacks.record(trx, row, action, handlerId, at, freeText ? { ...detail, sealed: mapValues(freeText, (v) => options.cipher.seal(v)) } : detail);

  const openEvent = (event: CallbackEvent): CallbackEvent => {
    const sealed = event.detail?.sealed as Record<string, string> | undefined;
    if (!sealed) return event;
    const { sealed: _sealed, ...rest } = event.detail!;
    return { ...event, detail: { ...rest, ...mapValues(sealed, (v) => options.cipher.open(v)) } };
  };

  async function load(id: string): Promise<CallbackRow> {
    const row = await callbacks.get(read, id);
    if (!row) {
      throw new CallbackNotFound(id);
    }
    return reveal(row);
  }

  /** Why a handler's action on a request they do not (or no longer) hold is refused. */
  function conflict(row: CallbackRow, handlerId: string, action: CallbackAction): CallbackConflict {
    if (row.status === 'claimed' && row.claimed_by !== handlerId) {
      return new CallbackConflict('claimed_by_other', `callback ${row.id} is claimed by ${row.claimed_by} until ${row.lease_until}`);
    }
    if (row.status === 'completed' || row.status === 'cancelled') {
      return new CallbackConflict('closed', `callback ${row.id} is already ${row.status}`);
    }
    return new CallbackConflict('not_claimed', `claim callback ${row.id} before you ${action} it`);
  }

  /** Runs a handler action that needs the claim, records it, and announces it. */
  async function heldAction(
    id: string,
    handlerId: string,
    action: CallbackAction,
    change: QueueChange['type'],
    update: (row: CallbackRow, now: string) => Partial<CallbackRow>,
    detail?: Record<string, unknown>,
    freeText?: Record<string, string>,
  ) {
    const now = clock().toISOString();
    await expire(now);
    const row = await load(id);
    const changes = update(row, now);
    const done = await store.write(async (trx) => {
      if (!(await callbacks.updateHeld(trx, id, handlerId, now, changes))) {
        return false;
      }
      await record(trx, row, action, handlerId, now, detail, freeText);
      return true;
    });
    if (!done) {
      throw conflict(await load(id), handlerId, action);
    }
    const after = await load(id);
    await announce({ type: change, id, status: after.status });
    return callbackRequest(after);
  }

  /**
   * Keeps an open request in step with a new step of its assessment, inside the unit of work
   * that stores the step: the answers, the decision's trace and the request never disagree.
   * Only steps after the request reach here: request() holds the assessment at the step it
   * read, so an answer and a request never overlap. The request is never left less urgent
   * than the most urgent decision since asking: a more urgent one moves the due time earlier
   * (never later); an escalation also puts it at the top of the queue for clinical review; a
   * less urgent one keeps the urgency, and the handler sees both decisions.
   */
  async function follow(trx: Transaction<Database>, assessment: Assessment): Promise<Followed | undefined> {
    const row = await callbacks.forAssessment(trx, assessment.id);
    if (!row || !isOpen(row)) {
      return undefined;
    }
    const now = clock().toISOString();
    const earlier = answersChangedOf(row);
    const outcome = assessment.status === 'complete' ? assessment.outcome : null;
    const latest = outcome ? decisionSummary(outcome, assessment.updatedAt) : (earlier?.latest ?? null);
    const answersChanged: AnswersChanged = {
      at: now,
      whenAsked: earlier?.whenAsked ?? decisionSummary({ kind: 'callback', disposition: row.disposition, within: row.within }, row.decided_at),
      latest,
    };
    const changes: Partial<CallbackRow> = { answers_changed: JSON.stringify(answersChanged) };
    let type: QueueChange['type'] = 'answers_changed';
    if (outcome && compareUrgency(outcome, urgencyOf(row)) > 0) {
      // Every escalate and callback outcome has a time frame (the rule-set schema insists).
      const within = outcome.within!;
      const due = dueAfter(assessment.updatedAt, within);
      Object.assign(changes, { disposition: outcome.disposition, within, decided_at: assessment.updatedAt, due_at: due < row.due_at ? due : row.due_at });
      type = 'urgency_raised';
      if (outcome.kind === 'escalate') {
        Object.assign(changes, { queue_band: ESCALATED_BAND, needs_review: 1, review_reason: 'escalated' });
        type = 'escalated';
      }
    }
    if (!(await callbacks.updateOpen(trx, row.id, now, changes))) {
      return undefined;
    }
    const after: CallbackRow = { ...row, ...changes, updated_at: now };
    if (outcome) {
      const held = { disposition: row.disposition, within: row.within, dueAt: row.due_at };
      await record(trx, row, type, null, now, {
        ...(type === 'answers_changed' ? { kept: held } : { from: held, to: { disposition: after.disposition, within: after.within, dueAt: after.due_at } }),
        latest: { kind: outcome.kind, disposition: outcome.disposition, within: outcome.within ?? null },
      });
    }
    return { callback: queuedCallback(after), change: { type, id: row.id, status: row.status } };
  }

  return {
    changes,

    /**
     * Starts hearing queue changes from every instance; call once at start-up. Changes made while
     * this instance could not hear were missed: consoles are then told to 'refresh' the whole queue.
     */
    listen: () => {
      store.notifier.onReconnect(() => changes.emit('refresh'));
      return store.notifier.subscribe(CHANNEL, (change) => changes.emit('change', change as QueueChange));
    },

    /** A patient's request for a callback; the same assessment always maps to one request. */
    async request(assessmentId: string, contact: { name: string; phone: string; consent: boolean }): Promise<{ request: CallbackRequest; created: boolean }> {
      const assessment = await assessments.get(read, assessmentId);
      if (!assessment) {
        throw new AssessmentNotFound(assessmentId);
      }
      const checked = checkUkPhone(contact.phone, { dramaNumbers: options.dramaNumbers ?? false });
      const phone = checked.ok ? checked.e164 : undefined;
      const errors = [...(checked.ok ? [] : [{ path: ['phone'], message: checked.message }]), ...(contact.consent ? [] : [{ path: ['consent'], message: 'we need your consent to call you back' }])];
      if (errors.length) {
        throw new InvalidContact(errors);
      }
      // A repeat finds the request as it stands now, even after the answers have changed.
      const existing = await callbacks.forAssessment(read, assessmentId);
      if (existing) {
        return { request: callbackRequest(reveal(existing)), created: false };
      }
      if (assessment.status !== 'complete' || assessment.outcome?.kind !== 'callback' || !assessment.outcome.within) {
        const what = assessment.status === 'complete' ? `its outcome is ${assessment.outcome?.kind}` : 'it is not complete';
        throw new NoCallbackForAssessment(`assessment ${assessmentId} cannot have a callback: ${what}`);
      }
      const now = clock().toISOString();
      const decidedAt = assessment.updatedAt;
      const row: CallbackRow = {
        id: randomUUID(),
        assessment_id: assessmentId,
        status: 'waiting',
        name: options.cipher.seal(contact.name),
        phone: options.cipher.seal(phone!),
        disposition: assessment.outcome.disposition,
        within: assessment.outcome.within,
        decided_at: decidedAt,
        due_at: dueAfter(decidedAt, assessment.outcome.within),
        created_at: now,
        updated_at: now,
        claimed_by: null,
        lease_until: null,
        attempts: 0,
        needs_review: 0,
        completion_outcome: null,
        completion_notes: null,
        completed_at: null,
        queue_band: NORMAL_BAND,
        review_reason: null,
        answers_changed: null,
        first_attempt_at: null,
      };
      try {
        await store.write(async (trx) => {
          if (!(await assessments.holdStep(trx, assessmentId, assessment.step))) {
            throw new AssessmentChanged(`assessment ${assessmentId} was answered again while the callback was asked for; fetch it to see its outcome`);
          }
          await callbacks.insert(trx, row);
          await record(trx, row, 'requested', null, now, { dueAt: row.due_at, within: row.within });
        });
      } catch (err) {
        // Two identical submissions at once: the unique assessment id lets exactly one in.
        const winner = await callbacks.forAssessment(read, assessmentId);
        if (winner) {
          return { request: callbackRequest(reveal(winner)), created: false };
        }
        throw err;
      }
      await announce({ type: 'added', id: row.id, status: 'waiting' });
      return { request: callbackRequest({ ...row, name: contact.name, phone: phone! }), created: true };
    },

    follow,

    /** After a followed step commits: consoles hear of it. */
    announceFollowed: (followed: Followed) => announce(followed.change),

    /** The patient's own view of their request (no contact details), if they asked for one. */
    async forAssessment(assessmentId: string): Promise<QueuedCallback | undefined> {
      const row = await callbacks.forAssessment(read, assessmentId);
      return row && queuedCallback(row);
    },

    /**
     * A request with its contact details and its history in clear. Reading them is itself an
     * audited action (who, when), committed before the details leave.
     */
    async read(id: string, readerId: string): Promise<{ request: CallbackRequest; history: CallbackEvent[] }> {
      const now = clock().toISOString();
      await expire(now);
      const row = await load(id);
      await store.write(async (trx) => {
        await callbacks.lock(trx, id);
        await record(trx, row, 'contact_read', readerId, now);
      });
      return { request: callbackRequest(await load(id)), history: (await callbacks.history(read, row.assessment_id)).map(openEvent) };
    },

    async queue(filter: { status?: CallbackStatus; overdue?: boolean; after?: QueuePosition; limit: number }) {
      const now = clock().toISOString();
      await expire(now);
      const statuses: CallbackStatus[] = filter.status ? [filter.status] : [...OPEN_STATUSES];
      const rows = await callbacks.queue(read, { statuses, overdueAt: filter.overdue ? now : undefined, after: filter.after, limit: filter.limit });
      return { callbacks: rows.map(queuedCallback), now };
    },

    async claim(id: string, handlerId: string): Promise<CallbackRequest> {
      const now = clock();
      await expire(now.toISOString());
      const leaseUntil = new Date(now.getTime() + options.leaseSeconds * 1000).toISOString();
      const row = await load(id);
      const won = await store.write(async (trx) => {
        if (!(await callbacks.claim(trx, id, handlerId, leaseUntil, now.toISOString()))) {
          return false;
        }
        await record(trx, row, 'claim', handlerId, now.toISOString(), { leaseUntil });
        return true;
      });
      if (!won) {
        throw conflict(await load(id), handlerId, 'claim');
      }
      const after = await load(id);
      await announce({ type: 'claimed', id, status: 'claimed' });
      return callbackRequest(after);
    },

    renew: (id: string, handlerId: string) => heldAction(id, handlerId, 'renew', 'renewed', (_row, now) => ({ lease_until: new Date(Date.parse(now) + options.leaseSeconds * 1000).toISOString() })),

    release: (id: string, handlerId: string) => heldAction(id, handlerId, 'release', 'released', () => ({ status: 'waiting', claimed_by: null, lease_until: null })),

    // The notes are free text (what happened on the call): sealed in the event, like a cancel reason.
    attempt: (id: string, handlerId: string, notes?: string) =>
      heldAction(
        id,
        handlerId,
        'attempt',
        'attempted',
        (row, now) => ({
          first_attempt_at: row.first_attempt_at ?? now,
          status: 'waiting',
          claimed_by: null,
          lease_until: null,
          attempts: row.attempts + 1,
          ...(row.attempts + 1 >= MAX_ATTEMPTS_BEFORE_REVIEW && !row.needs_review ? { needs_review: 1, review_reason: 'no_answer' as const } : {}),
        }),
        undefined,
        notes ? { notes } : undefined,
      ),

    complete: (id: string, handlerId: string, outcome: CompletionOutcome, notes: string) =>
      heldAction(
        id,
        handlerId,
        'complete',
        'completed',
        (row, now) => ({ first_attempt_at: row.first_attempt_at ?? now, status: 'completed', lease_until: null, completion_outcome: outcome, completion_notes: options.cipher.seal(notes), completed_at: now }),
        // The notes are patient data: kept on the request, never in the audit events.
        { outcome },
      ),

    /**
     * Cancelling needs the claim, like every action. A clinician or admin may instead override
     * (a request someone else holds, or nobody has claimed); the history records the override
     * and whose claim it overrode.
     */
    async cancel(id: string, actor: Actor, reason: string, override = false): Promise<CallbackRequest> {
      const closed = { status: 'cancelled' as const, claimed_by: null, lease_until: null };
      if (!override) {
        return heldAction(id, actor.id, 'cancel', 'cancelled', (_row, now) => ({ ...closed, completed_at: now }), undefined, { reason });
      }
      if (!actor.roles.some((r) => CANCEL_OVERRIDE.includes(r))) {
        throw new NotAllowed(`only a ${CANCEL_OVERRIDE.join(' or ')} may cancel a request without holding its claim; claim it first`, 'cancel_override');
      }
      const now = clock().toISOString();
      await expire(now);
      const done = await store.write(async (trx) => {
        const row = await callbacks.get(trx, id);
        if (!row || !(await callbacks.updateOpen(trx, id, now, { ...closed, completed_at: now }))) {
          return false;
        }
        await record(trx, row, 'cancel_override', actor.id, now, { heldBy: row.claimed_by }, { reason });
        return true;
      });
      if (!done) {
        throw conflict(await load(id), actor.id, 'cancel');
      }
      await announce({ type: 'cancelled', id, status: 'cancelled' });
      return callbackRequest(await load(id));
    },

    /**
     * Cancel reasons recorded in clear before they were sealed: sealed once at start-up, so
     * no free text stays readable in the database.
     */
    async sealClearText(): Promise<number> {
      const events = await read.selectFrom('callback_events').select(['id', 'detail']).where('action', '=', 'cancel').where('detail', 'like', '%"reason"%').execute();
      const clear = events.flatMap((e) => {
        const detail = JSON.parse(e.detail!) as Record<string, unknown>;
        return typeof detail.reason === 'string' ? [{ id: e.id, detail }] : [];
      });
      if (clear.length > 0) {
        await store.write(async (trx) => {
          for (const { id, detail } of clear) {
            const { reason, ...rest } = detail;
            const sealed = JSON.stringify({ ...rest, sealed: { reason: options.cipher.seal(reason as string) } });
            await trx.updateTable('callback_events').set({ detail: sealed }).where('id', '=', id).execute();
          }
        });
      }
      return clear.length;
    },

    async stats() {
      const now = clock();
      await expire(now.toISOString());
      const open = await callbacks.open(read);
      const waiting = open.filter((r) => r.status === 'waiting');
      const byWindow: Record<string, number> = {};
      for (const r of waiting) {
        byWindow[r.within] = (byWindow[r.within] ?? 0) + 1;
      }
      const oldest = waiting[0];
      return {
        waiting: waiting.length,
        claimed: open.length - waiting.length,
        byWindow,
        overdue: open.filter((r) => r.due_at < now.toISOString()).length,
        oldestWaiting: oldest ? { id: oldest.id, createdAt: oldest.created_at, waitingSeconds: Math.round((now.getTime() - Date.parse(oldest.created_at)) / 1000) } : null,
      };
    },

    /** Every event of an assessment's request in order, free text still sealed. */
    history: (assessmentId: string): Promise<CallbackEvent[]> => callbacks.history(read, assessmentId),
  };
}

const mapValues = (o: Record<string, string>, f: (v: string) => string): Record<string, string> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));

/** The callback queue as the routes and the assessments use it. */
export interface CallbackService {
  /** Queue changes from every instance ('change'), and 'refresh' when some may have been missed. */
  changes: EventEmitter;
  /**
   * Starts hearing queue changes from every instance; call once at start-up. Changes made while
   * this instance could not hear were missed: consoles are then told to 'refresh' the whole queue.
   */
  listen: () => Promise<void>;
  /** A patient's request for a callback; the same assessment always maps to one request. */
  request(
    assessmentId: string,
    contact: {
      name: string;
      phone: string;
      consent: boolean;
    },
  ): Promise<{
    request: CallbackRequest;
    created: boolean;
  }>;
  follow: (trx: Transaction<Database>, assessment: Assessment) => Promise<Followed | undefined>;
  /** After a followed step commits: consoles hear of it. */
  announceFollowed: (followed: Followed) => Promise<void>;
  /** The patient's own view of their request (no contact details), if they asked for one. */
  forAssessment(assessmentId: string): Promise<QueuedCallback | undefined>;
  /**
   * A request with its contact details and its history in clear. Reading them is itself an
   * audited action (who, when), committed before the details leave.
   */
  read(
    id: string,
    readerId: string,
  ): Promise<{
    request: CallbackRequest;
    history: CallbackEvent[];
  }>;
  queue(filter: { status?: CallbackStatus; overdue?: boolean; after?: QueuePosition; limit: number }): Promise<{
    callbacks: QueuedCallback[];
    now: string;
  }>;
  claim(id: string, handlerId: string): Promise<CallbackRequest>;
  renew: (id: string, handlerId: string) => Promise<CallbackRequest>;
  release: (id: string, handlerId: string) => Promise<CallbackRequest>;
  attempt: (id: string, handlerId: string, notes?: string) => Promise<CallbackRequest>;
  complete: (id: string, handlerId: string, outcome: CompletionOutcome, notes: string) => Promise<CallbackRequest>;
  /**
   * Cancelling needs the claim, like every action. A clinician or admin may instead override
   * (a request someone else holds, or nobody has claimed); the history records the override
   * and whose claim it overrode.
   */
  cancel(id: string, actor: Actor, reason: string, override?: boolean): Promise<CallbackRequest>;
  /**
   * Cancel reasons recorded in clear before they were sealed: sealed once at start-up, so
   * no free text stays readable in the database.
   */
  sealClearText(): Promise<number>;
  stats(): Promise<{
    waiting: number;
    claimed: number;
    byWindow: Record<string, number>;
    overdue: number;
    oldestWaiting: {
      id: string;
      createdAt: string;
      waitingSeconds: number;
    } | null;
  }>;
  /** Every event of an assessment's request in order, free text still sealed. */
  history: (assessmentId: string) => Promise<CallbackEvent[]>;
}
