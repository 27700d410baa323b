import { isDeepStrictEqual } from 'node:util';
import { TraceAltered } from '../errors.js';
import type { ConditionNode } from '../rulesets/schema.js';
import type { PathwayVersion, RankedRule } from '../rulesets/version.js';
import type { AskWhenEvaluation, ConditionTrace, DecidedOutcome, Evaluation, RuleEvaluation } from '../triage/decide.js';
import type { Answer, AnswerValue, Patient } from '../triage/answers.js';
import type { DecisionRecord } from '../triage/decision.js';
import { all, any, type Kleene } from '../triage/kleene.js';
import { ruleRecord, type Settlement, type SettledRule } from '../triage/settled.js';

/**
 * The compact trace format. A full trace (the only format before 2026-12-07, which names none)
 * repeats, for every rule, its title, rank and condition tree with each leaf's fact, operator and
 * expected value: all of it is in the rule-set version the trace names by hash, and it was nine
 * tenths of the trace. A compact trace keeps what only the decision knows (each leaf's result;
 * its actual value, which is the fact's value the trace records once, unless it differs) and takes
 * the rest from that version when it is read. Its hash covers the version's hash, and the stored
 * version is checked against its own hash when restored, so the pair proves what a full trace did.
 *
 * Condition trees are written as one character a leaf, in the order the version's condition
 * lists them (`t` true, `f` false, `u` unknown); a rule not handed to the engine is `U` and its
 * value (`Uf`, `Uu`), one decided above `D`. Rules follow the version's rank order, askWhen checks
 * the version's question order; settled rules are one character each (`a` by the answers, `n` not
 * asked, `x` unaskable), for the rules ranked first.
 */
export const COMPACT_FORMAT = 'compact-v1';

/** The answers as given, in order: [question id, value]. */
export type CompactAnswers = [string, AnswerValue][];

/** What a compact trace keeps of the result: its columns; the outcome's texts are the version's. */
export type CompactResult = { status: 'complete'; outcome: Pick<DecidedOutcome, 'kind' | 'disposition' | 'ruleId'> } | { status: 'needs_answer'; questionId: string };

export interface CompactEvaluation {
  semantics?: Evaluation['semantics'];
  /**
   * The facts that are not the answer as given ('not sure' as its countsAs, a duration in hours),
   * by question. The other facts are the patient's age and sex and each answer kept as given.
   */
  counted?: Record<string, unknown>;
  /** The questions whose answers were dropped (their values are in the answers). */
  dropped: string[];
  engineRuns: number;
  /** One token a ranked rule (empty: no rule was evaluated, as in a fail-safe). */
  rules: string;
  /** One token a question with an askWhen (empty: none was evaluated). */
  askWhen: string;
  /** Leaves whose actual value is not the fact's value, by place (`r3.0`: rule 3, leaf 0; `a`: askWhen; `n`: next). */
  actual?: Record<string, unknown>;
  /** The question asked, its askWhen's leaves, the rule it is asked for, the questions still needed. */
  next: { questionId: string; askWhen: string | null; askedFor?: string; stillNeeded?: string[] } | null;
  decidedBy: Evaluation['decidedBy'];
  settled?: string;
}

const LEAF: Record<string, Kleene> = { t: true, f: false, u: null };
const leafChar = (k: Kleene): string => (k === true ? 't' : k === false ? 'f' : 'u');
const SETTLED: Record<string, Settlement> = { a: 'answers', n: 'not_asked', x: 'unaskable' };
const settledChar: Record<Settlement, string> = { answers: 'a', not_asked: 'n', unaskable: 'x' };

/** Equal as JSON values. Arrays of answers' values are the usual case, and isDeepStrictEqual's generality cost a third of drafting. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  return typeof a === 'object' && typeof b === 'object' && a !== null && b !== null && !Array.isArray(a) && !Array.isArray(b) && isDeepStrictEqual(a, b);
}

/** Each version's rules by id and its questions with an askWhen, worked out once per version. */
const indexes = new WeakMap<PathwayVersion, { rules: Map<string, RankedRule>; asked: PathwayVersion['questions'] }>();
function indexOf(version: PathwayVersion): { rules: Map<string, RankedRule>; asked: PathwayVersion['questions'] } {
  let index = indexes.get(version);
  if (!index) {
    index = { rules: new Map(version.rules.map((r) => [r.rule.id, r])), asked: version.questions.filter((q) => q.askWhen) };
    indexes.set(version, index);
  }
  return index;
}

/** The outcome a rule (or, with null, the fallback) gives, as a decision records it. */
function outcomeOf(version: PathwayVersion, ruleId: string | null): DecidedOutcome | undefined {
  if (ruleId === null) return { ...version.fallback.outcome, ruleId: null, reason: 'fallback' };
  const ranked = indexOf(version).rules.get(ruleId);
  return ranked && { ...ranked.outcome, ruleId, reason: ranked.rule.title };
}

/** Thrown while compacting when the evaluation says something the version cannot give back. */
class NotCompactable extends Error {}

function need(ok: boolean): void {
  if (!ok) throw new NotCompactable();
}

/** Writes a traced condition as its leaves' results, checking it has the version's shape. */
function encodeTree(node: ConditionNode, trace: ConditionTrace, facts: Record<string, unknown>, place: string, actual: Record<string, unknown>): string {
  let text = '';
  let leaf = 0;
  const visit = (n: ConditionNode, c: ConditionTrace): void => {
    if ('all' in n || 'any' in n) {
      const parts = 'all' in n ? n.all : n.any;
      const traced = 'all' in n ? ('all' in c ? c.all : undefined) : 'any' in c ? c.any : undefined;
      need(traced !== undefined && traced.length === parts.length && parts.length > 0);
      parts.forEach((p, i) => visit(p, traced![i]!));
      need(c.result === ('all' in n ? all : any)(traced!.map((x) => x.result)));
      return;
    }
    need('fact' in c && c.fact === n.fact && c.operator === n.operator && same(c.expected, n.value));
    const leafTrace = c as Extract<ConditionTrace, { fact: string }>;
    const value = facts[n.fact];
    if (!same(leafTrace.actual, value)) {
      // JSON has no undefined to write: an actual value missing beside a known fact cannot be kept.
      need(leafTrace.actual !== undefined);
      actual[`${place}.${leaf}`] = leafTrace.actual;
    }
    text += leafChar(leafTrace.result);
    leaf += 1;
  };
  visit(node, trace);
  return text;
}

/** Reads a condition's leaves back into the traced condition, valued from the version and the facts. */
function decodeTree(node: ConditionNode, text: string, at: number, facts: Record<string, unknown>, place: string, actual: Record<string, unknown>): { trace: ConditionTrace; end: number } {
  let pos = at;
  let leaf = 0;
  const visit = (n: ConditionNode): ConditionTrace => {
    if ('all' in n) {
      const parts = n.all.map(visit);
      return { all: parts, result: all(parts.map((x) => x.result)) };
    }
    if ('any' in n) {
      const parts = n.any.map(visit);
      return { any: parts, result: any(parts.map((x) => x.result)) };
    }
    const result = LEAF[text[pos++] ?? ''];
    if (result === undefined) throw new Error(`leaf ${place}.${leaf} is not t, f or u`);
    const key = `${place}.${leaf++}`;
    const value = Object.hasOwn(actual, key) ? actual[key] : facts[n.fact];
    return value === undefined ? { fact: n.fact, operator: n.operator, expected: n.value, result } : { fact: n.fact, operator: n.operator, expected: n.value, actual: value, result };
  };
  return { trace: visit(node), end: pos };
}

/** A rule's token: `D`, `U` and its value, or its leaves (whose root must be what fired). */
function encodeRule(ranked: RankedRule, r: RuleEvaluation, index: number, facts: Record<string, unknown>, actual: Record<string, unknown>): string {
  const { rule, scope, module } = ranked;
  need(
    r.ruleId === rule.id && r.title === rule.title && r.scope === scope && r.module === module && r.redFlag === (scope === 'global_red_flag' || rule.redFlag === true) && r.priority === ranked.enginePriority,
  );
  if (r.notEvaluated === 'decided_above') return 'D';
  if (r.notEvaluated === 'unanswered') return `U${leafChar(r.fired)}`;
  need(r.fired === r.conditions.result);
  return encodeTree(ranked.rule.conditions, r.conditions, facts, `r${index}`, actual);
}

function encodeAskWhen(question: PathwayVersion['questions'][number], a: AskWhenEvaluation, index: number, facts: Record<string, unknown>, actual: Record<string, unknown>): string {
  need(a.questionId === question.id);
  if (a.notEvaluated === 'unanswered') return `U${leafChar(a.held)}`;
  need(a.held === a.conditions.result);
  return encodeTree(question.askWhen!, a.conditions, facts, `a${index}`, actual);
}

/**
 * A decision's evaluation and result in the compact format, or undefined when the version could
 * not give every part of it back exactly (the trace is then written in full: never a lossy trace).
 */
export function compactEvaluation(
  version: PathwayVersion,
  patient: Patient,
  given: Answer[],
  evaluation: Evaluation,
  result: DecisionRecord,
): { answers: CompactAnswers; evaluation: CompactEvaluation; result: CompactResult } | undefined {
  try {
    const { facts } = evaluation;
    const answers: CompactAnswers = given.map((a) => [a.questionId, a.value]);
    const values = new Map(answers);
    need(values.size === answers.length);
    const dropped = evaluation.dropped.map((a) => (need(values.has(a.questionId) && same(values.get(a.questionId), a.value)), a.questionId));
    // The facts must be exactly the patient and the answers kept, each as given or as counted.
    const counted: Record<string, unknown> = {};
    const kept = answers.filter(([id]) => !dropped.includes(id));
    need(facts.ageYears === patient.ageYears && facts.sex === patient.sex && Object.keys(facts).length === kept.length + 2);
    for (const [id, value] of kept) {
      need(Object.hasOwn(facts, id) && facts[id] !== undefined && id !== 'ageYears' && id !== 'sex');
      if (!same(facts[id], value)) counted[id] = facts[id];
    }
    const { asked } = indexOf(version);
    const actual: Record<string, unknown> = {};
    const rules = evaluation.rules.length === 0 ? '' : (need(evaluation.rules.length === version.rules.length), evaluation.rules.map((r, i) => encodeRule(version.rules[i]!, r, i, facts, actual)).join(''));
    const askWhen = evaluation.askWhen.length === 0 ? '' : (need(evaluation.askWhen.length === asked.length), evaluation.askWhen.map((a, i) => encodeAskWhen(asked[i]!, a, i, facts, actual)).join(''));
    // An empty list must read back as empty, not as a version with nothing in it to list.
    need(rules !== '' || evaluation.rules.length === 0 || version.rules.length === 0);
    let next: CompactEvaluation['next'] = null;
    if (evaluation.next) {
      const { questionId, askWhen: traced, askedFor, stillNeeded } = evaluation.next;
      const question = version.questionById.get(questionId);
      need(question !== undefined && (traced === null || question.askWhen !== undefined));
      if (askedFor) {
        const ranked = indexOf(version).rules.get(askedFor.ruleId);
        need(ranked !== undefined && isDeepStrictEqual(askedFor, askedForOf(ranked)));
      }
      next = {
        questionId,
        askWhen: traced === null ? null : encodeTree(question!.askWhen!, traced, facts, 'n', actual),
        ...(askedFor ? { askedFor: askedFor.ruleId } : {}),
        ...(stillNeeded ? { stillNeeded } : {}),
      };
    }
    let settled: string | undefined;
    if (evaluation.settled) {
      settled = evaluation.settled.map((s, i) => (need(s.ruleId === version.rules[i]?.rule.id), settledChar[s.by])).join('');
    }
    let compactResult: CompactResult;
    if (result.status === 'complete') {
      const { kind, disposition, ruleId } = result.outcome;
      need(isDeepStrictEqual(result.outcome, outcomeOf(version, ruleId)));
      compactResult = { status: 'complete', outcome: { kind, disposition, ruleId } };
    } else {
      compactResult = result;
    }
    const { semantics, engineRuns, decidedBy } = evaluation;
    return {
      answers,
      evaluation: {
        ...(semantics ? { semantics } : {}),
        ...(Object.keys(counted).length ? { counted } : {}),
        dropped,
        engineRuns,
        rules,
        askWhen,
        ...(Object.keys(actual).length ? { actual } : {}),
        next,
        decidedBy,
        ...(settled !== undefined ? { settled } : {}),
      },
      result: compactResult,
    };
  } catch (err) {
    if (err instanceof NotCompactable) return undefined;
    throw err;
  }
}

const askedForOf = ({ rule, outcome }: RankedRule) => ({ ruleId: rule.id, title: rule.title, kind: outcome.kind, ...(outcome.within ? { within: outcome.within } : {}) });

/**
 * A compact evaluation and result as the full trace would have had them, from the version the
 * trace names (the caller restores it by that hash). Anything that does not fit the version is
 * refused as an altered trace: the stored version is content-addressed, so it cannot be the cause.
 */
export function expandEvaluation(
  version: PathwayVersion,
  trace: { seq: number; id: string; patient: Patient; answers: CompactAnswers; evaluation: CompactEvaluation; result: CompactResult },
): { answers: Answer[]; evaluation: Evaluation; result: DecisionRecord } {
  const { evaluation: compact, result, patient } = trace;
  const altered = (what: string) => new TraceAltered(trace.seq, trace.id, `does not fit the rule-set version it names: ${what}`);
  const answers = trace.answers.map(([questionId, value]) => ({ questionId, value }));
  const values = new Map(trace.answers);
  const dropped = compact.dropped.map((questionId) => {
    if (!values.has(questionId)) throw altered(`dropped answer ${questionId}`);
    return { questionId, value: values.get(questionId)! };
  });
  const counted = compact.counted ?? {};
  const facts: Record<string, unknown> = { ageYears: patient.ageYears, sex: patient.sex };
  for (const [id, value] of trace.answers) {
    if (!compact.dropped.includes(id)) facts[id] = Object.hasOwn(counted, id) ? counted[id] : value;
  }
  const actual = compact.actual ?? {};
  const { asked, rules: byId } = indexOf(version);
  const rules: RuleEvaluation[] = [];
  let pos = 0;
  const text = compact.rules;
  if (text !== '') {
    version.rules.forEach((ranked, i) => {
      const record = ruleRecord(ranked);
      const c = text[pos];
      if (c === 'D') {
        pos += 1;
        rules.push(Object.assign(record, { fired: null, notEvaluated: 'decided_above' } as const));
      } else if (c === 'U') {
        const fired = LEAF[text[pos + 1] ?? ''];
        if (fired === undefined || fired === true) throw altered(`rule ${ranked.rule.id}`);
        pos += 2;
        rules.push(Object.assign(record, { fired, notEvaluated: 'unanswered' } as const));
      } else {
        const { trace: conditions, end } = decodeTree(ranked.rule.conditions, text, pos, facts, `r${i}`, actual);
        pos = end;
        rules.push(Object.assign(record, { fired: conditions.result, conditions }));
      }
    });
    if (pos !== text.length) throw altered('its rules');
  }
  const askWhen: AskWhenEvaluation[] = [];
  pos = 0;
  if (compact.askWhen !== '') {
    asked.forEach((question, i) => {
      if (compact.askWhen[pos] === 'U') {
        const held = LEAF[compact.askWhen[pos + 1] ?? ''];
        if (held === undefined || held === true) throw altered(`the askWhen of ${question.id}`);
        pos += 2;
        askWhen.push({ questionId: question.id, held, notEvaluated: 'unanswered' });
      } else {
        const { trace: conditions, end } = decodeTree(question.askWhen!, compact.askWhen, pos, facts, `a${i}`, actual);
        pos = end;
        askWhen.push({ questionId: question.id, held: conditions.result, conditions });
      }
    });
    if (pos !== compact.askWhen.length) throw altered('its askWhen checks');
  }
  let next: Evaluation['next'] = null;
  if (compact.next) {
    const { questionId, askWhen: leaves, askedFor, stillNeeded } = compact.next;
    const question = version.questionById.get(questionId);
    if (!question || (leaves !== null && !question.askWhen)) throw altered(`question ${questionId}`);
    let traced: ConditionTrace | null = null;
    if (leaves !== null) {
      const decoded = decodeTree(question.askWhen!, leaves, 0, facts, 'n', actual);
      if (decoded.end !== leaves.length) throw altered(`the askWhen of ${questionId}`);
      traced = decoded.trace;
    }
    const ranked = askedFor === undefined ? undefined : byId.get(askedFor);
    if (askedFor !== undefined && !ranked) throw altered(`rule ${askedFor}`);
    next = { questionId, askWhen: traced, ...(ranked ? { askedFor: askedForOf(ranked) } : {}), ...(stillNeeded ? { stillNeeded } : {}) };
  }
  let settled: SettledRule[] | undefined;
  if (compact.settled !== undefined) {
    settled = [...compact.settled].map((c, i) => {
      const ranked = version.rules[i];
      const by = SETTLED[c];
      if (!ranked || !by) throw altered('its settled rules');
      return { ruleId: ranked.rule.id, by };
    });
  }
  let full: DecisionRecord;
  if (result.status === 'complete') {
    const outcome = outcomeOf(version, result.outcome.ruleId);
    if (!outcome || outcome.kind !== result.outcome.kind || outcome.disposition !== result.outcome.disposition) throw altered('its outcome');
    full = { status: 'complete', outcome };
  } else {
    full = result;
  }
  const { semantics, engineRuns, decidedBy } = compact;
  return {
    answers,
    evaluation: { ...(semantics ? { semantics } : {}), facts, dropped, engineRuns, rules, askWhen, next, decidedBy, ...(settled ? { settled } : {}) },
    result: full,
  };
}
