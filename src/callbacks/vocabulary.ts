/** The callback queue's words, shared by the store, the service, the routes and the consoles' API. */

/** Where a request stands: open while waiting or claimed. */
export const CALLBACK_STATUSES = ['waiting', 'claimed', 'completed', 'cancelled'] as const;
export type CallbackStatus = (typeof CALLBACK_STATUSES)[number];
export const OPEN_STATUSES = ['waiting', 'claimed'] as const satisfies readonly CallbackStatus[];

/** Why a request is flagged for clinical review: unanswered calls, or answers that escalated after it. */
export const REVIEW_REASONS = ['no_answer', 'escalated'] as const;
export type ReviewReason = (typeof REVIEW_REASONS)[number];

/**
 * Every action a request's audit history records: a handler's (claim to cancel_override), the
 * patient's (requested), a reader's (contact_read), and the service's own (lease_expired, and a
 * later step of the assessment: answers_changed, urgency_raised, escalated).
 */
export const CALLBACK_ACTIONS = [
  'requested',
  'contact_read',
  'claim',
  'renew',
  'release',
  'attempt',
  'complete',
  'cancel',
  'cancel_override',
  'lease_expired',
  'answers_changed',
  'urgency_raised',
  'escalated',
] as const;
export type CallbackAction = (typeof CALLBACK_ACTIONS)[number];
