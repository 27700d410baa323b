import type { RuleResult } from 'json-rules-engine';
import { PATIENT_FACTS, type Outcome, type OutcomeKind, type Question } from '../rulesets/schema.js';
import type { PathwayVersion, RuleScope } from '../rulesets/version.js';
import { engineValue, type Answer, type Patient } from './answers.js';
import { askWhenRuleName, type EarlyStop, type RulePlan, type VersionPlans } from './engines.js';
import { traceCondition, type ConditionTrace } from './kleene.js';
import { CURRENT_SEMANTICS, readSettled, ruleRecord, settle, type AskedFor, type DecisionSemantics, type SettledRule } from './settled.js';

export type { ConditionTrace } from './kleene.js';

/** What a patient is told: the outcome plus which rule produced it. */
export interface DecidedOutcome {
  kind: OutcomeKind;
  disposition: string;
  title: string;
  advice: string;
  safetyNetting?: string;
  within?: string;
  /** null when no rule decided and the pathway's fallback applied. */
  ruleId: string | null;
  /** The deciding rule's title, or "fallback". */
  reason: string;
}

export type FallbackCause = 'no_rule_decided' | 'engine_error' | 'timeout';

export interface RuleRecord {
  ruleId: string;
  title: string;
  scope: RuleScope;
  /** The module the rule comes from (scope `module`). */
  module?: string;
  redFlag: boolean;
  priority: number;
}

/**
 * A rule as json-rules-engine evaluated it, or why it was not handed to the engine: it could
 * not fire with its questions still unanswered (settled-v2: no question it names is answered,
 * so it is unknown, or false where those questions can no longer be asked), or a rule of higher
 * priority had already fired (so whether this one would have fired is unknown: `fired` is null).
 * Under settled-v2 `fired` is three-valued: null while a question it needs is still to be asked.
 * Its conditions are in the stored rule-set version the trace names.
 */
export type RuleEvaluation = RuleRecord &
  ({ fired: boolean | null; notEvaluated?: undefined; conditions: ConditionTrace } | { fired: false | null; notEvaluated: 'unanswered' } | { fired: null; notEvaluated: 'decided_above' });

/** An askWhen as evaluated, or one naming no answered question (held false, or null: unknown). */
export type AskWhenEvaluation = { questionId: string } & ({ held: boolean | null; notEvaluated?: undefined; conditions: ConditionTrace } | { held: false | null; notEvaluated: 'unanswered' });

/** Everything an auditor needs to know about how one decision was reached. */
export interface Evaluation {
  /** How it was decided; traces made before there was a choice name none (first-fire-v1). */
  semantics?: DecisionSemantics;
  facts: Record<string, unknown>;
  /** Answers dropped because the question they answer no longer applies (a changed answer). */
  dropped: Answer[];
  rules: RuleEvaluation[];
  askWhen: AskWhenEvaluation[];
  /**
   * The question's askWhen; settled-v2 adds the unsettled rule it is asked for, and every
   * unanswered question the unsettled rules need now, this one first.
   */
  next: { questionId: string; askWhen: ConditionTrace | null; askedFor?: AskedFor; stillNeeded?: string[] } | null;
  decidedBy: { ruleId: string } | { fallback: FallbackCause; detail: string };
  /** settled-v2, for an outcome: every rule ranked above the deciding one (every rule, for the fallback) and how it was settled false. */
  settled?: SettledRule[];
  engineRuns: number;
}

export type Decision = { status: 'complete'; outcome: DecidedOutcome; answers: Answer[]; evaluation: Evaluation } | { status: 'needs_answer'; question: Question; answers: Answer[]; evaluation: Evaluation };

export interface DecideOptions {
  /** Evaluation budget: past it the decision is the conservative fallback. */
  timeoutMs: number;
  /** Told about engine errors and timeouts; never given answers or patient details. */
  onFailSafe?: (cause: FallbackCause, detail: string) => void;
}

class EvaluationTimeout extends Error {}

/**
 * Decides the next step for a patient on one pathway version, with the semantics given (the
 * current ones unless replaying a trace made with older ones; see DECISION_SEMANTICS). Any
 * failure to evaluate gives the fallback, which is never self-care.
 */
export async function decide(version: PathwayVersion, plans: VersionPlans, patient: Patient, answers: Answer[], options: DecideOptions, semantics: DecisionSemantics = CURRENT_SEMANTICS): Promise<Decision> {
  const deadline = Date.now() + options.timeoutMs;
  const dropped: Answer[] = [];
  let current = answers;
  let runs = 0;
  let facts: Record<string, unknown> = {};
  try {
    for (;;) {
      facts = factsOf(version, patient, current);
      runs += 1;
      const answered = new Set(current.map((a) => a.questionId));
      const plan = plans.plan(answered, semantics);
      const { results, stop } = await runEngine(plan, facts, deadline);
      const record = { semantics, facts, dropped, engineRuns: runs };
      let decision: Decision | undefined;
      let staleIds: string[];
      if (semantics === 'first-fire-v1') {
        const read = readResults(version, plan, results, stop);
        staleIds = read.askWhen.filter((a) => a.held === false && answered.has(a.questionId)).map((a) => a.questionId);
        if (staleIds.length === 0) decision = conclude(version, current, { ...record, rules: read.rules, askWhen: read.askWhen });
      } else {
        const read = readSettled(version, plan, results, stop, new Set<string>([...PATIENT_FACTS, ...answered]));
        staleIds = read.stale;
        if (staleIds.length === 0) decision = concludeSettled(version, current, { ...record, rules: read.rules, askWhen: read.askWhen }, settle(version, read));
      }
      if (decision) return decision;
      // An answer applies only while its question's askWhen holds; drop the rest and re-run,
      // since dropping one answer can make another question's askWhen fail in turn.
      const stale = current.filter((a) => staleIds.includes(a.questionId));
      dropped.push(...stale);
      current = current.filter((a) => !stale.includes(a));
    }
  } catch (err) {
    const cause: FallbackCause = err instanceof EvaluationTimeout ? 'timeout' : 'engine_error';
    const detail = err instanceof Error ? err.message : String(err);
    options.onFailSafe?.(cause, detail);
    return fallback(version, current, { semantics, facts, dropped, rules: [], askWhen: [], engineRuns: runs }, cause, detail);
  }
}

type RunRecord = Omit<Evaluation, 'next' | 'decidedBy' | 'settled'>;

/** settled-v2: the verdict of the three-valued reading as a decision. */
function concludeSettled(version: PathwayVersion, answers: Answer[], record: RunRecord, verdict: ReturnType<typeof settle>): Decision {
  if ('ask' in verdict) {
    const next = { questionId: verdict.ask.id, askWhen: verdict.askWhen, askedFor: verdict.askedFor, stillNeeded: verdict.stillNeeded };
    return { status: 'needs_answer', question: verdict.ask, answers, evaluation: { ...record, next, decidedBy: { fallback: 'no_rule_decided', detail: '' } } };
  }
  if ('fallback' in verdict) {
    return fallback(version, answers, { ...record, settled: verdict.settled }, 'no_rule_decided', 'no rule fired and no question is left to ask');
  }
  const { rule, outcome } = verdict.decider;
  return {
    status: 'complete',
    outcome: toOutcome(outcome, rule.id, rule.title),
    answers,
    evaluation: { ...record, next: null, decidedBy: { ruleId: rule.id }, settled: verdict.settled },
  };
}

/** first-fire-v1: the highest-priority rule that fires decides; else the first unanswered question whose askWhen holds. */
function conclude(version: PathwayVersion, answers: Answer[], record: RunRecord): Decision {
  const fired = new Set(record.rules.filter((r) => r.fired).map((r) => r.ruleId));
  const decider = version.rules.find((r) => fired.has(r.rule.id));
  if (decider) {
    return {
      status: 'complete',
      outcome: toOutcome(decider.outcome, decider.rule.id, decider.rule.title),
      answers,
      evaluation: { ...record, next: null, decidedBy: { ruleId: decider.rule.id } },
    };
  }
  const answered = new Set(answers.map((a) => a.questionId));
  const askWhen = new Map(record.askWhen.map((a) => [a.questionId, a]));
  for (const question of version.questions) {
    if (answered.has(question.id)) {
      continue;
    }
    const check = askWhen.get(question.id);
    if (!check || check.held) {
      return {
        status: 'needs_answer',
        question,
        answers,
        evaluation: { ...record, next: { questionId: question.id, askWhen: check?.conditions ?? null }, decidedBy: { fallback: 'no_rule_decided', detail: '' } },
      };
    }
  }
  return fallback(version, answers, record, 'no_rule_decided', 'no rule fired and no question is left to ask');
}

function fallback(version: PathwayVersion, answers: Answer[], record: RunRecord & Pick<Evaluation, 'settled'>, cause: FallbackCause, detail: string): Decision {
  const { settled, ...rest } = record;
  // The settled rules come after what decided, as in a decision by a rule.
  return {
    status: 'complete',
    outcome: toOutcome(version.fallback.outcome, null, 'fallback'),
    answers,
    evaluation: { ...rest, next: null, decidedBy: { fallback: cause, detail }, ...(settled ? { settled } : {}) },
  };
}

/**
 * The conservative decision when no evaluation could be made at all (the evaluation itself
 * failed, for example in a decision worker): the pathway's fallback, with the cause on record.
 */
export function failSafeDecision(version: PathwayVersion, answers: Answer[], patient: Patient, cause: FallbackCause, detail: string): Decision {
  return fallback(version, answers, { semantics: CURRENT_SEMANTICS, facts: factsOf(version, patient, answers), dropped: [], rules: [], askWhen: [], engineRuns: 0 }, cause, detail);
}

function toOutcome(outcome: Outcome, ruleId: string | null, reason: string): DecidedOutcome {
  return { ...outcome, ruleId, reason };
}

/** What the rules see: the patient and each answer as it counts (the trace's answers keep what was said). */
function factsOf(version: PathwayVersion, patient: Patient, answers: Answer[]): Record<string, unknown> {
  const facts: Record<string, unknown> = { ageYears: patient.ageYears, sex: patient.sex };
  for (const a of answers) {
    facts[a.questionId] = engineValue(version.questionById.get(a.questionId), a.value);
  }
  return facts;
}

async function runEngine(plan: RulePlan, facts: Record<string, unknown>, deadline: number): Promise<{ results: RuleResult[]; stop: EarlyStop | null }> {
  const lent = plan.pool.acquire();
  // The engine goes back to the pool only once its run has settled, even after a timeout,
  // so a late-finishing run can never share an engine with a new one.
  const run = lent.run(facts);
  run.then(
    () => plan.pool.release(lent),
    () => plan.pool.release(lent),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EvaluationTimeout('evaluation exceeded its time budget')), Math.max(0, deadline - Date.now()));
  });
  let result: Awaited<typeof run>;
  try {
    result = await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
  // A CPU-bound run never yields to the timer, so the budget is also checked afterwards.
  if (Date.now() > deadline) {
    throw new EvaluationTimeout('evaluation exceeded its time budget');
  }
  return result;
}

function readResults(version: PathwayVersion, plan: RulePlan, results: RuleResult[], stop: EarlyStop | null): { rules: RuleEvaluation[]; askWhen: AskWhenEvaluation[] } {
  const byName = new Map<string, RuleResult>();
  for (const r of results) byName.set(r.name as string, r);
  const rules: RuleEvaluation[] = [];
  for (const ranked of version.rules) {
    const { rule, enginePriority } = ranked;
    const record = ruleRecord(ranked);
    const r = byName.get(rule.id);
    if (r) {
      rules.push(Object.assign(record, { fired: r.result, conditions: traceCondition(r.conditions) }));
    } else if (!plan.rules.has(rule.id)) {
      rules.push(Object.assign(record, { fired: false, notEvaluated: 'unanswered' } as const));
    } else if (stop?.reason === 'decided' && enginePriority < stop.priority) {
      rules.push(Object.assign(record, { fired: null, notEvaluated: 'decided_above' } as const));
    } else if (stop?.reason !== 'stale') {
      // Every planned rule must have run: a missing result is the concurrency hazard, not a "no".
      // (After a stale answer the run is discarded: decide() drops the answer and runs again.)
      throw new Error(`rule ${rule.id} was not evaluated`);
    }
  }
  const askWhen: AskWhenEvaluation[] = [];
  for (const question of version.questions) {
    if (!question.askWhen) {
      continue;
    }
    const r = byName.get(askWhenRuleName(question.id));
    if (r) {
      askWhen.push({ questionId: question.id, held: r.result, conditions: traceCondition(r.conditions) });
    } else if (!plan.askWhen.has(question.id)) {
      askWhen.push({ questionId: question.id, held: false, notEvaluated: 'unanswered' });
    } else {
      throw new Error(`askWhen of ${question.id} was not evaluated`);
    }
  }
  return { rules, askWhen };
}
