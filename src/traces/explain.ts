import { outcomeNeed, type OutcomeKind } from '../rulesets/schema.js';
import type { ConditionTrace, RuleEvaluation } from '../triage/decide.js';
import type { TraceBody } from './trace.js';

/** A trace in plain sentences, for a call handler or clinician who was not there. */
export interface Explanation {
  traceId: string;
  /** One sentence: what was decided and why. */
  summary: string;
  /** The red-flag rules that did not fire, each with the answer that ruled it out. */
  ruledOut: string[];
  /** The other rules ranked above the decision, each with how it was ruled out first. */
  settled: string[];
  /** Answers set aside because a changed answer made their question no longer apply. */
  setAside: string[];
  /** Answers the rules read differently from how they were given: "not sure", and durations (in hours). */
  counted: string[];
}

const KIND_VERB: Record<OutcomeKind, string> = {
  escalate: 'Escalated',
  callback: 'Clinician callback',
  self_care: 'Self-care',
};

function value(v: unknown): string {
  if (v === undefined) {
    return 'not answered';
  }
  if (typeof v === 'boolean') {
    return v ? "'yes'" : "'no'";
  }
  if (Array.isArray(v)) {
    return v.map(value).join(', ');
  }
  return typeof v === 'string' ? `'${v}'` : String(v);
}

const EXPECTS: Record<string, string> = {
  equal: '',
  notEqual: 'anything but ',
  in: 'one of ',
  notIn: 'none of ',
  contains: 'a list including ',
  doesNotContain: 'a list without ',
  lessThan: 'less than ',
  lessThanInclusive: 'at most ',
  greaterThan: 'more than ',
  greaterThanInclusive: 'at least ',
};

function leaf(c: Extract<ConditionTrace, { fact: string }>): string {
  return `${c.fact} is ${value(c.actual)} (rule expects ${EXPECTS[c.operator] ?? `${c.operator} `}${value(c.expected)})`;
}

/** The leaves that made a condition come out as `want`: why it held, or why it did not. */
function decisive(c: ConditionTrace, want: boolean): string[] {
  if ('fact' in c) {
    return c.result === want ? [leaf(c)] : [];
  }
  const children = 'all' in c ? c.all : c.any;
  // An `all` fails on its first false child; an `any` holds on its true children.
  const oneIsEnough = ('all' in c && !want) || ('any' in c && want);
  const parts = children.map((child) => decisive(child, want)).filter((p) => p.length > 0);
  return oneIsEnough ? (parts[0] ?? []) : parts.flat();
}

function ruleName(r: RuleEvaluation): string {
  return `rule ${r.ruleId} '${r.title}'${r.module ? ` (module ${r.module})` : ''}`;
}

/** What the rules made of answers they do not read as given (facts hold what the rules saw). */
function counted(trace: TraceBody): string[] {
  const facts = trace.evaluation.facts;
  return trace.answers.flatMap(({ questionId, value: given }) => {
    const seen = facts[questionId];
    if (seen === undefined || seen === given) return [];
    if (given === 'unsure') return [`Counted 'not sure' to ${questionId} as ${value(seen)}, the reading the rules give it.`];
    if (typeof given === 'string' && typeof seen === 'number') return [`Counted ${given} for ${questionId} as ${seen} hours.`];
    return [];
  });
}

export function explain(trace: TraceBody): Explanation {
  const { evaluation, result } = trace;
  let summary: string;
  if (result.status === 'needs_answer') {
    const next = evaluation.next;
    const applies = next?.askWhen ? decisive(next.askWhen, true).join('; ') : '';
    if (next?.askedFor) {
      const { ruleId, title } = next.askedFor;
      summary =
        `No rule has decided yet; we ask about ${result.questionId} because it could still mean ${outcomeNeed(next.askedFor)}: ` +
        `rule ${ruleId} '${title}' is not settled yet${applies ? `. It applies because ${applies}` : ''}.`;
    } else {
      summary = applies ? `No rule has decided yet; asking ${result.questionId} next, because ${applies}.` : `No rule has decided yet; asking ${result.questionId} next, the first unanswered question.`;
    }
  } else {
    const outcome = result.outcome;
    const head = `${KIND_VERB[outcome.kind]}: ${outcome.title}`;
    const decidedBy = evaluation.decidedBy;
    if ('ruleId' in decidedBy) {
      const rule = evaluation.rules.find((r) => r.ruleId === decidedBy.ruleId);
      summary = rule?.notEvaluated === undefined && rule ? `${head}, because ${ruleName(rule)} fired: ${decisive(rule.conditions, true).join('; ')}.` : `${head}, because rule ${decidedBy.ruleId} fired.`;
    } else if (decidedBy.fallback === 'no_rule_decided') {
      summary = `${head}, the pathway's conservative fallback, because no rule fired and no question was left to ask.`;
    } else {
      const why = decidedBy.fallback === 'timeout' ? 'took longer than its time budget' : `failed (${decidedBy.detail})`;
      summary = `${head}, the pathway's conservative fallback, because the evaluation ${why}.`;
    }
  }
  // Only red flags the answers ruled out: not those whose questions are still to be asked.
  const ruledOut = evaluation.rules.flatMap((r) =>
    r.redFlag && r.notEvaluated === undefined && r.fired === false ? [`Ruled out ${ruleName(r)}: ${decisive(r.conditions, false).join('; ') || 'its conditions did not hold'}.`] : [],
  );
  const listed = new Set(evaluation.rules.filter((r) => r.redFlag && r.notEvaluated === undefined && r.fired === false).map((r) => r.ruleId));
  const settled = (evaluation.settled ?? []).flatMap(({ ruleId, by }) => {
    const rule = evaluation.rules.find((r) => r.ruleId === ruleId);
    if (!rule || listed.has(ruleId)) return [];
    if (by === 'unaskable') return [`Treated ${ruleName(rule)} as ruled out: nothing left could be asked to settle it.`];
    const why = by === 'answers' && rule.notEvaluated === undefined ? decisive(rule.conditions, false).join('; ') : 'a question it needs does not apply';
    return [`Checked first and ruled out: ${ruleName(rule)}: ${why}.`];
  });
  const setAside = evaluation.dropped.map((a) => `Set aside the answer ${value(a.value)} to ${a.questionId}: that question no longer applies after a changed answer.`);
  return { traceId: trace.id, summary, ruledOut, settled, setAside, counted: counted(trace) };
}
