import { durationSeconds } from '../rulesets/duration.js';
import { URGENCY, type OutcomeKind } from '../rulesets/schema.js';

/** What urgency is read from: an outcome's kind and its time frame. */
export interface Urgency {
  kind: OutcomeKind;
  within?: string | null;
}

const seconds = (within: string | null | undefined): number => (within ? durationSeconds(within) : Number.POSITIVE_INFINITY);

/**
 * The one urgency order (impact reports, the callback queue): escalation above a callback above
 * self-care, and within a kind the shorter time frame first. Positive when `a` is more urgent.
 */
export function compareUrgency(a: Urgency, b: Urgency): number {
  return URGENCY[a.kind] - URGENCY[b.kind] || seconds(b.within) - seconds(a.within);
}
