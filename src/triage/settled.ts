import type { RuleResult } from 'json-rules-engine';
import type { OutcomeKind, Question } from '../rulesets/schema.js';
import type { PathwayVersion, RankedRule } from '../rulesets/version.js';
import type { AskWhenEvaluation, RuleEvaluation, RuleRecord } from './decide.js';
import { askWhenRuleName, type EarlyStop, type RulePlan } from './engines.js';
import { mergeTrace, revalue, staticTrace, staticValue, traceCondition, unknownFacts, type ConditionTrace, type Kleene } from './kleene.js';
import type { ConditionNode } from '../rulesets/schema.js';

/**
 * The ways decisions have been made; each trace names the one it was decided with, and replay
 * uses that one, so a trace replays as it was decided (docs/authoring.md, "How a pathway decides"):
 * - first-fire-v1: a condition on an unanswered question is false, and the highest-priority
 *   rule that fires decides at once (traces that name no semantics were made this way);
 * - settled-v2: a condition on an unanswered question is unknown, and a rule decides only when
 *   it fires and every rule ranked above it is settled false. Until then the next question is
 *   the first, in file order, that an unsettled rule above needs.
 */
export const DECISION_SEMANTICS = ['first-fire-v1', 'settled-v2'] as const;
export type DecisionSemantics = (typeof DECISION_SEMANTICS)[number];
/** What every new decision is made with. */
export const CURRENT_SEMANTICS: DecisionSemantics = 'settled-v2';
/** What a trace naming no semantics was made with. */
export const ORIGINAL_SEMANTICS: DecisionSemantics = 'first-fire-v1';

/**
 * How a rule ranked above a decision was settled false: by the answers; because a question it
 * needs does not apply (its askWhen cannot hold); or, with nothing left that could be asked to
 * settle it, by the fail-safe that lets an assessment end (never expected; recorded if it happens).
 */
export type Settlement = 'answers' | 'not_asked' | 'unaskable';
export interface SettledRule {
  ruleId: string;
  by: Settlement;
}

/** The unsettled rule a question is asked for, and the outcome it could still lead to. */
export interface AskedFor {
  ruleId: string;
  title: string;
  kind: OutcomeKind;
  within?: string;
}

type QuestionStatus = 'answered' | 'open' | 'never';

/** One json-rules-engine run read three-valued. */
export interface SettledRead {
  rules: RuleEvaluation[];
  askWhen: AskWhenEvaluation[];
  /** Answered questions whose askWhen does not hold: their answers no longer apply. */
  stale: string[];
  status: Map<string, QuestionStatus>;
  /** Each rule's conditions (by rule id) and each askWhen (by question id), valued three-way. */
  ruleTrace: (ranked: RankedRule) => ConditionTrace;
  askTraces: Map<string, ConditionTrace>;
}

/**
 * Values every askWhen and rule three-way: a leaf on a known fact as json-rules-engine
 * evaluated it, a leaf on a question whose askWhen can no longer hold false (it will never be
 * answered), any other leaf unknown. Questions are read in file order, and an askWhen names only
 * earlier questions, so each question's status is known before anything that names it is read.
 */
export function readSettled(version: PathwayVersion, plan: RulePlan, results: RuleResult[], stop: EarlyStop | null, known: ReadonlySet<string>): SettledRead {
  const byName = new Map<string, RuleResult>();
  for (const r of results) byName.set(r.name as string, r);
  const status = new Map<string, QuestionStatus>();
  const leaf = (fact: string, result: boolean | undefined): Kleene => (known.has(fact) ? (result ?? null) : status.get(fact) === 'never' ? false : null);
  const unanswered = (fact: string): Kleene => leaf(fact, undefined);
  // A planned engine evaluated only the known part of each condition; `all` evaluated the whole.
  const traced = (node: ConditionNode, evaluated: unknown) => (plan.known ? mergeTrace(node, evaluated, known, leaf) : traceCondition(evaluated, leaf));
  const askWhen: AskWhenEvaluation[] = [];
  const askTraces = new Map<string, ConditionTrace>();
  const stale: string[] = [];
  for (const question of version.questions) {
    let held: Kleene = true;
    if (question.askWhen) {
      const r = byName.get(askWhenRuleName(question.id));
      let trace: ConditionTrace;
      if (r) {
        trace = traced(question.askWhen, r.conditions);
        askWhen.push({ questionId: question.id, held: trace.result, conditions: trace });
      } else if (!plan.askWhen.has(question.id)) {
        trace = staticTrace(question.askWhen, unanswered);
        askWhen.push({ questionId: question.id, held: trace.result as false | null, notEvaluated: 'unanswered' });
      } else {
        throw new Error(`askWhen of ${question.id} was not evaluated`);
      }
      askTraces.set(question.id, trace);
      held = trace.result;
    }
    if (known.has(question.id)) {
      status.set(question.id, 'answered');
      if (held !== true) stale.push(question.id);
    } else {
      status.set(question.id, held === false ? 'never' : 'open');
    }
  }
  const ruleTraces = new Map<string, ConditionTrace>();
  // A rule no answer bears on is traced only if its trace is needed (few are).
  const ruleTrace = ({ rule }: RankedRule) => ruleTraces.get(rule.id) ?? staticTrace(rule.conditions, unanswered);
  const rules: RuleEvaluation[] = [];
  if (stale.length > 0) {
    // decide() drops the stale answers and runs again; this run's rules do not count.
    return { rules, askWhen, stale, status, ruleTrace, askTraces };
  }
  for (const ranked of version.rules) {
    const { rule, enginePriority } = ranked;
    const record = ruleRecord(ranked);
    const r = byName.get(rule.id);
    if (r) {
      const trace = traced(rule.conditions, r.conditions);
      ruleTraces.set(rule.id, trace);
      rules.push(Object.assign(record, { fired: trace.result, conditions: trace }));
    } else if (!plan.rules.has(rule.id)) {
      rules.push(Object.assign(record, { fired: staticValue(rule.conditions, unanswered) as false | null, notEvaluated: 'unanswered' } as const));
    } else if (stop?.reason === 'decided' && enginePriority < stop.priority) {
      rules.push(Object.assign(record, { fired: null, notEvaluated: 'decided_above' } as const));
    } else {
      // Every planned rule must have run: a missing result is the concurrency hazard, not a "no".
      throw new Error(`rule ${rule.id} was not evaluated`);
    }
  }
  return { rules, askWhen, stale, status, ruleTrace, askTraces };
}

/** How a trace names a rule: its id, title, where it comes from, and its rank. */
export function ruleRecord({ rule, scope, module, enginePriority }: RankedRule): RuleRecord {
  return { ruleId: rule.id, title: rule.title, scope, ...(module ? { module } : {}), redFlag: scope === 'global_red_flag' || rule.redFlag === true, priority: enginePriority };
}

/** What a three-valued run decides: a rule, a question to ask, or the fallback. */
export type Verdict = { decider: RankedRule; settled: SettledRule[] } | { ask: Question; askWhen: ConditionTrace | null; askedFor: AskedFor; stillNeeded: string[] } | { fallback: true; settled: SettledRule[] };

/**
 * The first rule in rank order that fires decides once every rule above it is settled false.
 * While one above is unknown, the next question is the first unanswered one, in file order,
 * that such a rule (or the askWhen of a question it needs) still needs.
 */
export function settle(version: PathwayVersion, read: SettledRead): Verdict {
  const first = read.rules.findIndex((r) => r.fired === true);
  const above = version.rules.slice(0, first < 0 ? version.rules.length : first);
  const unknown = above.filter((_, i) => read.rules[i]!.fired === null);
  if (unknown.length > 0) {
    const next = nextQuestion(version, unknown, read);
    if (next) {
      const { rule, outcome } = next.rule;
      return {
        ask: next.question,
        askWhen: read.askTraces.get(next.question.id) ?? null,
        askedFor: { ruleId: rule.id, title: rule.title, kind: outcome.kind, ...(outcome.within ? { within: outcome.within } : {}) },
        stillNeeded: next.stillNeeded,
      };
    }
  }
  const settled = above.map((ranked) => ({ ruleId: ranked.rule.id, by: unknown.includes(ranked) ? 'unaskable' : settlement(read, ranked) }) as SettledRule);
  return first < 0 ? { fallback: true, settled } : { decider: version.rules[first]!, settled };
}

/**
 * The first open question in file order that an unsettled rule needs, the highest such rule, and
 * every open question they need now (answers to come can make some unneeded, or need others).
 */
function nextQuestion(version: PathwayVersion, unknown: RankedRule[], read: SettledRead): { question: Question; rule: RankedRule; stillNeeded: string[] } | undefined {
  // Each question that an unsettled rule needs, with the first (highest-ranked) rule that needs it.
  const neededBy = new Map<string, RankedRule>();
  for (const ranked of unknown) {
    const need = (fact: string) => {
      if (neededBy.has(fact)) return;
      neededBy.set(fact, ranked);
      // A question whose askWhen is still unknown needs the questions that askWhen names first.
      const askWhen = read.askTraces.get(fact);
      if (askWhen?.result === null) unknownFacts(askWhen, need);
    };
    unknownFacts(read.ruleTrace(ranked), need);
  }
  const open = version.questions.filter((q) => neededBy.has(q.id) && read.status.get(q.id) === 'open');
  const question = open[0];
  return question && { question, rule: neededBy.get(question.id)!, stillNeeded: open.map((q) => q.id) };
}

/** False by the answers alone, or only because a question it needs does not apply. */
function settlement(read: SettledRead, ranked: RankedRule): Settlement {
  const trace = read.ruleTrace(ranked);
  return revalue(trace, (c) => (read.status.get(c.fact) === 'never' ? null : c.result)) === false ? 'answers' : 'not_asked';
}
