import type { RuleResult } from 'json-rules-engine';
import type { Outcome, OutcomeKind, Question } from '../rulesets/schema.js';
import type { PathwayVersion, RuleScope } from '../rulesets/version.js';
import type { Answer, Patient } from './answers.js';
import { askWhenRuleName, type EarlyStop, type RulePlan, type VersionPlans } from './engines.js';

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

/** A condition as it was evaluated: for a leaf, the fact, operator, expected and actual value. */
export type ConditionTrace =
  | { all: ConditionTrace[]; result: boolean | null }
  | { any: ConditionTrace[]; result: boolean | null }
  | { fact: string; operator: string; expected: unknown; actual: unknown; result: boolean | null };

interface RuleRecord {
  ruleId: string;
  title: string;
  scope: RuleScope;
  redFlag: boolean;
  priority: number;
}

/**
 * A rule as json-rules-engine evaluated it, or why it was not handed to the engine: it could
 * not fire with its questions still unanswered, or a rule of higher priority had already fired
 * and decided (so whether this one would have fired is unknown: `fired` is null). Its
 * conditions are in the stored rule-set version the trace names.
 */
export type RuleEvaluation = RuleRecord &
  (
    | { fired: boolean; notEvaluated?: undefined; conditions: ConditionTrace }
    | { fired: false; notEvaluated: 'unanswered' }
    | { fired: null; notEvaluated: 'decided_above' }
  );

/** An askWhen as evaluated, or one that could not hold with its questions unanswered. */
export type AskWhenEvaluation = { questionId: string } & (
  | { held: boolean; notEvaluated?: undefined; conditions: ConditionTrace }
  | { held: false; notEvaluated: 'unanswered' }
);

/** Everything an auditor needs to know about how one decision was reached. */
export interface Evaluation {
  facts: Record<string, unknown>;
  /** Answers dropped because the question they answer no longer applies (a changed answer). */
  dropped: Answer[];
  rules: RuleEvaluation[];
  askWhen: AskWhenEvaluation[];
  next: { questionId: string; askWhen: ConditionTrace | null } | null;
  decidedBy: { ruleId: string } | { fallback: FallbackCause; detail: string };
  engineRuns: number;
}

export type Decision =
  | { status: 'complete'; outcome: DecidedOutcome; answers: Answer[]; evaluation: Evaluation }
  | { status: 'needs_answer'; question: Question; answers: Answer[]; evaluation: Evaluation };

export interface DecideOptions {
  /** Evaluation budget: past it the decision is the conservative fallback. */
  timeoutMs: number;
  /** Told about engine errors and timeouts; never given answers or patient details. */
  onFailSafe?: (cause: FallbackCause, detail: string) => void;
}

class EvaluationTimeout extends Error {}

/**
 * Decides the next step for a patient on one pathway version: the highest-priority rule that
 * fires decides; otherwise the first unanswered question whose askWhen holds; otherwise the
 * fallback. Any failure to evaluate also gives the fallback, which is never self-care.
 */
export async function decide(
  version: PathwayVersion,
  plans: VersionPlans,
  patient: Patient,
  answers: Answer[],
  options: DecideOptions,
): Promise<Decision> {
  const deadline = Date.now() + options.timeoutMs;
  const dropped: Answer[] = [];
  let current = answers;
  let runs = 0;
  let facts: Record<string, unknown> = {};
  try {
    for (;;) {
      facts = factsOf(patient, current);
      runs += 1;
      const plan = plans.plan(new Set(current.map((a) => a.questionId)));
      const result = await runEngine(version, plan, facts, deadline);
      const askResults = new Map(result.askWhen.map((a) => [a.questionId, a]));
      // An answer applies only while its question's askWhen holds; drop the rest and re-run,
      // since dropping one answer can make another question's askWhen fail in turn.
      const stale = current.filter((a) => askResults.get(a.questionId)?.held === false);
      if (stale.length > 0) {
        dropped.push(...stale);
        current = current.filter((a) => !stale.includes(a));
        continue;
      }
      return conclude(version, current, { facts, dropped, rules: result.rules, askWhen: result.askWhen, engineRuns: runs });
    }
  } catch (err) {
    const cause: FallbackCause = err instanceof EvaluationTimeout ? 'timeout' : 'engine_error';
    const detail = err instanceof Error ? err.message : String(err);
    options.onFailSafe?.(cause, detail);
    return fallback(version, current, { facts, dropped, rules: [], askWhen: [], engineRuns: runs }, cause, detail);
  }
}

type RunRecord = Omit<Evaluation, 'next' | 'decidedBy'>;

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

function fallback(version: PathwayVersion, answers: Answer[], record: RunRecord, cause: FallbackCause, detail: string): Decision {
  return {
    status: 'complete',
    outcome: toOutcome(version.fallback.outcome, null, 'fallback'),
    answers,
    evaluation: { ...record, next: null, decidedBy: { fallback: cause, detail } },
  };
}

/**
 * The conservative decision when no evaluation could be made at all (the evaluation itself
 * failed, for example in a decision worker): the pathway's fallback, with the cause on record.
 */
export function failSafeDecision(version: PathwayVersion, answers: Answer[], patient: Patient, cause: FallbackCause, detail: string): Decision {
  return fallback(version, answers, { facts: factsOf(patient, answers), dropped: [], rules: [], askWhen: [], engineRuns: 0 }, cause, detail);
}

function toOutcome(outcome: Outcome, ruleId: string | null, reason: string): DecidedOutcome {
  return { ...outcome, ruleId, reason };
}

function factsOf(patient: Patient, answers: Answer[]): Record<string, unknown> {
  const facts: Record<string, unknown> = { ageYears: patient.ageYears, sex: patient.sex };
  for (const a of answers) {
    facts[a.questionId] = a.value;
  }
  return facts;
}

async function runEngine(
  version: PathwayVersion,
  plan: RulePlan,
  facts: Record<string, unknown>,
  deadline: number,
): Promise<{ rules: RuleEvaluation[]; askWhen: AskWhenEvaluation[] }> {
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
  return readResults(version, plan, result.results, result.stop);
}

function readResults(version: PathwayVersion, plan: RulePlan, results: RuleResult[], stop: EarlyStop | null): { rules: RuleEvaluation[]; askWhen: AskWhenEvaluation[] } {
  const byName = new Map<string, RuleResult>();
  for (const r of results) byName.set(r.name as string, r);
  const rules: RuleEvaluation[] = [];
  for (const { rule, scope, enginePriority } of version.rules) {
    const record: RuleRecord = { ruleId: rule.id, title: rule.title, scope, redFlag: scope === 'global_red_flag' || rule.redFlag === true, priority: enginePriority };
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

interface EngineCondition {
  all?: EngineCondition[];
  any?: EngineCondition[];
  fact?: string;
  operator?: string;
  value?: unknown;
  factResult?: unknown;
  result?: boolean;
}

function traceCondition(node: unknown): ConditionTrace {
  const c = node as EngineCondition;
  // json-rules-engine records results on leaves only; groups are derived from their children.
  if (c.all) {
    const all = c.all.map(traceCondition);
    const results = all.map((x) => x.result);
    return { all, result: results.includes(false) ? false : results.every((r) => r === true) ? true : null };
  }
  if (c.any) {
    const any = c.any.map(traceCondition);
    const results = any.map((x) => x.result);
    return { any, result: results.includes(true) ? true : results.every((r) => r === false) ? false : null };
  }
  // A condition json-rules-engine skipped (an `all` already false) has no result: null.
  return { fact: c.fact ?? '', operator: c.operator ?? '', expected: c.value, actual: c.factResult, result: c.result ?? null };
}
