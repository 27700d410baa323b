import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { notFound, Problem } from '../problem.js';
import { durationSeconds } from '../rulesets/duration.js';
import { checkUkPhone } from './phone.js';
import { assessmentRepository } from '../store/assessments.js';
import { callbackRepository, type CallbackEvent, type CallbackRow, type CallbackStatus } from '../store/callbacks.js';
import type { Store } from '../store/database.js';
import type { ContactCipher } from '../security/contact-crypto.js';

/** How a call ended, from the fixed list call handlers choose from. */
export const COMPLETION_OUTCOMES = ['advice_given', 'referred_999', 'referred_ae', 'booked_gp_or_urgent_care', 'no_further_action'] as const;
export type CompletionOutcome = (typeof COMPLETION_OUTCOMES)[number];

/** After this many unanswered calls a request is flagged for clinical review (and stays queued). */
export const MAX_ATTEMPTS_BEFORE_REVIEW = 3;

export type QueueChange = { type: 'added' | 'claimed' | 'released' | 'attempted' | 'completed' | 'cancelled' | 'renewed'; id: string; status: CallbackStatus };

export interface CallbackServiceOptions {
  leaseSeconds: number;
  /** Seals name and phone before they are stored; the database alone never reveals them. */
  cipher: ContactCipher;
  /** Accept Ofcom's drama numbers (development and tests; never production). */
  dramaNumbers?: boolean;
  now?: () => Date;
}

/**
 * The callback queue's rules: who may do what to a request, when it is due, and the audit trail
 * of every handler action. Every change commits with its event before anyone is told.
 */
const CHANNEL = 'callback_changes';

export function callbackService(store: Store, options: CallbackServiceOptions) {
  const { db } = store;
  const callbacks = callbackRepository(db);
  const assessments = assessmentRepository(db);
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  const clock = options.now ?? (() => new Date());

  // Changes go through the store's notifier, so consoles connected to any instance hear them.
  const announce = (change: QueueChange) => store.notifier.publish(CHANNEL, change);

  async function expire(now: string): Promise<void> {
    // Every queue read comes here first; a plain read keeps the usual case (nothing has
    // expired) out of the write path.
    if (!(await callbacks.anyLeaseExpired(now))) {
      return;
    }
    const released = await store.write(async (trx) => {
      const rows = await callbacks.expireLeases(trx, now);
      for (const row of rows) {
        await callbacks.record(trx, row, 'lease_expired', row.claimed_by, now, { leaseUntil: row.lease_until });
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

  async function load(id: string): Promise<CallbackRow> {
    const row = await callbacks.get(id);
    if (!row) {
      throw notFound('callback request', id);
    }
    return reveal(row);
  }

  /** Why a handler's action on a request they do not (or no longer) hold is refused. */
  function conflict(row: CallbackRow, handlerId: string, action: string): Problem {
    if (row.status === 'claimed' && row.claimed_by !== handlerId) {
      return new Problem(409, 'Claimed by someone else', `callback ${row.id} is claimed by ${row.claimed_by} until ${row.lease_until}`);
    }
    if (row.status === 'completed' || row.status === 'cancelled') {
      return new Problem(409, 'Callback closed', `callback ${row.id} is already ${row.status}`);
    }
    return new Problem(409, 'Not claimed', `claim callback ${row.id} before you ${action} it`);
  }

  /** Runs a handler action that needs the claim, records it, and announces it. */
  async function heldAction(id: string, handlerId: string, action: string, change: QueueChange['type'], update: (row: CallbackRow, now: string) => Partial<CallbackRow>, detail?: Record<string, unknown>) {
    const now = clock().toISOString();
    await expire(now);
    const row = await load(id);
    const changes = update(row, now);
    const done = await store.write(async (trx) => {
      if (!(await callbacks.updateHeld(trx, id, handlerId, now, changes))) {
        return false;
      }
      await callbacks.record(trx, row, action, handlerId, now, detail);
      return true;
    });
    if (!done) {
      throw conflict(await load(id), handlerId, action);
    }
    const after = await load(id);
    await announce({ type: change, id, status: after.status });
    return after;
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
    async request(assessmentId: string, contact: { name: string; phone: string; consent: boolean }): Promise<{ row: CallbackRow; created: boolean }> {
      const assessment = await assessments.get(assessmentId);
      if (!assessment) {
        throw notFound('assessment', assessmentId);
      }
      if (assessment.status !== 'complete' || assessment.outcome?.kind !== 'callback' || !assessment.outcome.within) {
        const what = assessment.status === 'complete' ? `its outcome is ${assessment.outcome?.kind}` : 'it is not complete';
        throw new Problem(409, 'No callback for this assessment', `assessment ${assessmentId} cannot have a callback: ${what}`);
      }
      const checked = checkUkPhone(contact.phone, { dramaNumbers: options.dramaNumbers ?? false });
      const phone = checked.ok ? checked.e164 : undefined;
      const errors = [
        ...(checked.ok ? [] : [{ path: ['body', 'phone'], message: checked.message }]),
        ...(contact.consent ? [] : [{ path: ['body', 'consent'], message: 'we need your consent to call you back' }]),
      ];
      if (errors.length) {
        throw new Problem(422, 'Invalid contact details', errors.map((e) => e.message).join('; '), errors);
      }
      const existing = await callbacks.forAssessment(assessmentId);
      if (existing) {
        return { row: reveal(existing), created: false };
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
        due_at: new Date(Date.parse(decidedAt) + durationSeconds(assessment.outcome.within) * 1000).toISOString(),
        created_at: now,
        updated_at: now,
        claimed_by: null,
        lease_until: null,
        attempts: 0,
        needs_review: 0,
        completion_outcome: null,
        completion_notes: null,
        completed_at: null,
      };
      try {
        await store.write(async (trx) => {
          await callbacks.insert(trx, row);
          await callbacks.record(trx, row, 'requested', null, now, { dueAt: row.due_at, within: row.within });
        });
      } catch (err) {
        // Two identical submissions at once: the unique assessment id lets exactly one in.
        const winner = await callbacks.forAssessment(assessmentId);
        if (winner) {
          return { row: reveal(winner), created: false };
        }
        throw err;
      }
      await announce({ type: 'added', id: row.id, status: 'waiting' });
      return { row: { ...row, name: contact.name, phone: phone! }, created: true };
    },

    async get(id: string): Promise<CallbackRow> {
      await expire(clock().toISOString());
      return load(id);
    },

    async queue(filter: { status?: CallbackStatus; overdue?: boolean; after?: { dueAt: string; createdAt: string; id: string }; limit: number }) {
      const now = clock().toISOString();
      await expire(now);
      const statuses: CallbackStatus[] = filter.status ? [filter.status] : ['waiting', 'claimed'];
      const rows = await callbacks.queue({ statuses, overdueAt: filter.overdue ? now : undefined, after: filter.after, limit: filter.limit });
      return { rows, now };
    },

    async claim(id: string, handlerId: string): Promise<CallbackRow> {
      const now = clock();
      await expire(now.toISOString());
      const leaseUntil = new Date(now.getTime() + options.leaseSeconds * 1000).toISOString();
      const row = await load(id);
      const won = await store.write(async (trx) => {
        if (!(await callbacks.claim(trx, id, handlerId, leaseUntil, now.toISOString()))) {
          return false;
        }
        await callbacks.record(trx, row, 'claim', handlerId, now.toISOString(), { leaseUntil });
        return true;
      });
      if (!won) {
        throw conflict(await load(id), handlerId, 'claim');
      }
      const after = await load(id);
      await announce({ type: 'claimed', id, status: 'claimed' });
      return after;
    },

    renew: (id: string, handlerId: string) =>
      heldAction(id, handlerId, 'renew', 'renewed', (_row, now) => ({ lease_until: new Date(Date.parse(now) + options.leaseSeconds * 1000).toISOString() })),

    release: (id: string, handlerId: string) => heldAction(id, handlerId, 'release', 'released', () => ({ status: 'waiting', claimed_by: null, lease_until: null })),

    attempt: (id: string, handlerId: string) =>
      heldAction(id, handlerId, 'attempt', 'attempted', (row) => ({
        status: 'waiting',
        claimed_by: null,
        lease_until: null,
        attempts: row.attempts + 1,
        needs_review: row.attempts + 1 >= MAX_ATTEMPTS_BEFORE_REVIEW ? 1 : row.needs_review,
      })),

    complete: (id: string, handlerId: string, outcome: CompletionOutcome, notes: string) =>
      heldAction(
        id,
        handlerId,
        'complete',
        'completed',
        (_row, now) => ({ status: 'completed', lease_until: null, completion_outcome: outcome, completion_notes: options.cipher.seal(notes), completed_at: now }),
        // The notes are patient data: kept on the request, never in the audit events.
        { outcome },
      ),

    async cancel(id: string, handlerId: string, reason: string): Promise<CallbackRow> {
      const now = clock().toISOString();
      const row = await load(id);
      const done = await store.write(async (trx) => {
        if (!(await callbacks.cancel(trx, id, now))) {
          return false;
        }
        await callbacks.record(trx, row, 'cancel', handlerId, now, { reason });
        return true;
      });
      if (!done) {
        throw conflict(await load(id), handlerId, 'cancel');
      }
      await announce({ type: 'cancelled', id, status: 'cancelled' });
      return load(id);
    },

    async stats() {
      const now = clock();
      await expire(now.toISOString());
      const open = await callbacks.open();
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

    history: (assessmentId: string): Promise<CallbackEvent[]> => callbacks.history(assessmentId),
  };
}

export type CallbackService = ReturnType<typeof callbackService>;
