import type { CallbackRow, QueueRow } from '../store/callbacks.js';
import type { DecisionSummary } from '../triage/decision.js';
import type { CallbackStatus, ReviewReason } from './vocabulary.js';

/** How a call ended, from the fixed list call handlers choose from. */
export const COMPLETION_OUTCOMES = ['advice_given', 'referred_999', 'referred_ae', 'booked_gp_or_urgent_care', 'no_further_action'] as const;
export type CompletionOutcome = (typeof COMPLETION_OUTCOMES)[number];

/** The patient changed answers after asking: the decision asked on, and the latest one (none yet while still answering). */
export interface AnswersChanged {
  at: string;
  whenAsked: DecisionSummary;
  latest: DecisionSummary | null;
}

/** A request as the queue lists it (and the patient sees it): never the contact details. */
export interface QueuedCallback {
  id: string;
  assessmentId: string;
  status: CallbackStatus;
  disposition: string;
  /** The urgency window the answers earned (ISO 8601 duration). */
  within: string;
  /** 0: escalated after the request, above every other request; 1: everything else. */
  queueBand: number;
  dueAt: string;
  createdAt: string;
  attempts: number;
  needsReview: boolean;
  reviewReason: ReviewReason | null;
  answersChanged: AnswersChanged | null;
  claimedBy: string | null;
  leaseUntil: string | null;
}

/** A whole request, its contact details in clear: for the patient who made it and the handler who reads it. */
export interface CallbackRequest extends QueuedCallback {
  name: string;
  phone: string;
  completion: { outcome: CompletionOutcome; notes: string; at: string } | null;
}

export const answersChangedOf = (row: Pick<CallbackRow, 'answers_changed'>): AnswersChanged | null => (row.answers_changed ? (JSON.parse(row.answers_changed) as AnswersChanged) : null);

export function queuedCallback(row: QueueRow): QueuedCallback {
  return {
    id: row.id,
    assessmentId: row.assessment_id,
    status: row.status,
    disposition: row.disposition,
    within: row.within,
    queueBand: row.queue_band,
    dueAt: row.due_at,
    createdAt: row.created_at,
    attempts: row.attempts,
    needsReview: row.needs_review === 1,
    reviewReason: row.review_reason,
    answersChanged: answersChangedOf(row),
    claimedBy: row.claimed_by,
    leaseUntil: row.lease_until,
  };
}

/** A request from its row, once its contact details and notes are opened. */
export function callbackRequest(row: CallbackRow): CallbackRequest {
  return {
    ...queuedCallback(row),
    name: row.name,
    phone: row.phone,
    completion: row.completion_outcome ? { outcome: row.completion_outcome as CompletionOutcome, notes: row.completion_notes ?? '', at: row.completed_at ?? '' } : null,
  };
}
