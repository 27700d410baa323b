import { performance } from 'node:perf_hooks';
import type { PathwayVersion } from '../rulesets/version.js';
import { draftTrace, type TraceDraft } from '../traces/trace.js';
import type { Answer, Patient } from './answers.js';
import { failSafeDecision, type Decision, type FallbackCause } from './decide.js';
import { stepDecision, type StepDecision } from './decision.js';
import type { Triage } from './triage.js';

/** What one step is decided on, and where its trace belongs. */
export interface StepInput {
  patient: Patient;
  answers: Answer[];
  assessmentId: string | null;
  step: number | null;
}

/** Fail-safe causes worth a log line (a rule set that simply decides nothing is not one). */
export type FailSafe = { cause: Exclude<FallbackCause, 'no_rule_decided'>; detail: string };

/** One decided step and its trace, ready to be stored. */
export interface DecidedStep {
  decision: StepDecision;
  draft: TraceDraft;
  failSafe?: FailSafe;
}

/** Decides steps: on the event loop (localDecider) or in decision worker threads (DecisionPool). */
export interface Decider {
  step(version: PathwayVersion, input: StepInput): Promise<DecidedStep>;
  /** Steps waiting for a worker (the metrics' decision queue depth). */
  queueDepth(): number;
  close(): Promise<void>;
}

function traced(version: PathwayVersion, input: StepInput, decision: Decision, startedAt: number, durationMs: number): DecidedStep {
  const draft = draftTrace({ version, ...input, decision, startedAt, durationMs });
  const { decidedBy } = decision.evaluation;
  const failSafe = 'fallback' in decidedBy && decidedBy.fallback !== 'no_rule_decided' ? { cause: decidedBy.fallback, detail: decidedBy.detail } : undefined;
  return { decision: stepDecision(decision), draft, ...(failSafe ? { failSafe } : {}) };
}

/** Decides one step with json-rules-engine and drafts its trace: the same code wherever it runs. */
export async function decideStep(triage: Triage, version: PathwayVersion, input: StepInput): Promise<DecidedStep> {
  const startedAt = Date.now();
  const t0 = performance.now();
  const decision = await triage.decide(version, input.patient, input.answers);
  return traced(version, input, decision, startedAt, performance.now() - t0);
}

/** The conservative step when no evaluation came back at all, traced with its cause. */
export function failSafeStep(version: PathwayVersion, input: StepInput, failSafe: FailSafe): DecidedStep {
  return traced(version, input, failSafeDecision(version, input.answers, input.patient, failSafe.cause, failSafe.detail), Date.now(), 0);
}

/** Decisions on the event loop (TRIAGE_WORKERS=0); the Triage's own onFailSafe reports fail-safes. */
export function localDecider(triage: Triage): Decider {
  return { step: (version, input) => decideStep(triage, version, input), queueDepth: () => 0, close: async () => undefined };
}
