import type { OutcomeKind, Question } from '../rulesets/schema.js';
import type { Answer } from './answers.js';
import type { DecidedOutcome, Decision } from './decide.js';

/**
 * What was decided, and the views made of it: every place that shows a decision (the API, the
 * assessment's state, the trace's result, a callback handler's summary, the CLI) starts here.
 */

/**
 * Where a decision leaves the patient: an outcome, or a question to answer. `needs_answer` is
 * the one word for the second; /v1/assessments says `in_progress` for it (an alias kept for
 * this API version: ASSESSMENT_STATUS_ALIAS).
 */
export const DECISION_STATUSES = ['complete', 'needs_answer'] as const;
export type DecisionStatus = (typeof DECISION_STATUSES)[number];

/** What was decided, without how: the outcome, or the question asked next. */
export type Decided = { status: 'complete'; outcome: DecidedOutcome } | { status: 'needs_answer'; question: Question };

/** A decision as the patient and the assessment see it, with the answers it kept; how it was reached is in the trace. */
export type StepDecision = Decided & { answers: Answer[] };

/** What a trace records as its result: the outcome, or the id of the question asked next. */
export type DecisionRecord = { status: 'complete'; outcome: DecidedOutcome } | { status: 'needs_answer'; questionId: string };

/**
 * An assessment's own status: `in_progress` while it needs an answer. Stored as such, and
 * shown as such on /v1/assessments for this API version (an alias of `needs_answer`).
 */
export const ASSESSMENT_STATUSES = ['in_progress', 'complete'] as const;
export type AssessmentStatus = (typeof ASSESSMENT_STATUSES)[number];
export const ASSESSMENT_STATUS_ALIAS = { needs_answer: 'in_progress', complete: 'complete' } as const satisfies Record<DecisionStatus, AssessmentStatus>;

/** The decision alone, without its evaluation. */
export function decided(decision: Decided): Decided {
  return decision.status === 'complete' ? { status: 'complete', outcome: decision.outcome } : { status: 'needs_answer', question: decision.question };
}

/** A decision as a step hands it on: what was decided and the answers it kept. */
export function stepDecision(decision: Decision): StepDecision {
  return { ...decided(decision), answers: decision.answers };
}

/** A decision as its trace records it. */
export function decisionRecord(decision: Decided): DecisionRecord {
  return decision.status === 'complete' ? { status: 'complete', outcome: decision.outcome } : { status: 'needs_answer', questionId: decision.question.id };
}

/** An assessment's state after a step: its status, answers, and the question or outcome. */
export function assessmentState(decision: StepDecision): { status: AssessmentStatus; answers: Answer[]; questionId: string | null; outcome: DecidedOutcome | null } {
  return {
    status: ASSESSMENT_STATUS_ALIAS[decision.status],
    answers: decision.answers,
    questionId: decision.status === 'needs_answer' ? decision.question.id : null,
    outcome: decision.status === 'complete' ? decision.outcome : null,
  };
}

/** An outcome as a callback handler sees it beside another: how urgent, and decided when. */
export interface DecisionSummary {
  kind: OutcomeKind;
  disposition: string;
  within: string | null;
  decidedAt: string;
}

export function decisionSummary(outcome: Pick<DecidedOutcome, 'kind' | 'disposition' | 'within'>, decidedAt: string): DecisionSummary {
  return { kind: outcome.kind, disposition: outcome.disposition, within: outcome.within ?? null, decidedAt };
}
