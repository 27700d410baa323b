import { isDeepStrictEqual } from 'node:util';
import type { PathwayVersion } from '../rulesets/version.js';
import type { RuleEvaluation } from '../triage/decide.js';
import { decisionRecord } from '../triage/decision.js';
import { ORIGINAL_SEMANTICS, type DecisionSemantics } from '../triage/settled.js';
import type { Triage } from '../triage/triage.js';
import type { TraceBody, TraceResult } from './trace.js';

export interface ReplayReport {
  traceId: string;
  versionHash: string;
  /** The semantics the trace was decided with, and replayed with. */
  semantics: DecisionSemantics;
  identical: boolean;
  differences: string[];
  original: TraceResult;
  replayed: TraceResult;
}

/**
 * The rules that fired, among those both evaluations evaluated: a rule below the deciding
 * priority may be evaluated in one and not the other (see RuleEvaluationMode) without the
 * decision differing.
 */
function firedRules(rules: RuleEvaluation[], other: RuleEvaluation[]): string[] {
  const evaluatedInOther = new Set(other.filter((r) => r.fired !== null).map((r) => r.ruleId));
  return rules.filter((r) => r.fired === true && evaluatedInOther.has(r.ruleId)).map((r) => r.ruleId);
}

/**
 * Re-runs a trace's answers on the rule-set version that made it, with the decision semantics
 * it was made with, and says what differs.
 */
export async function replay(trace: TraceBody, version: PathwayVersion, triage: Triage): Promise<ReplayReport> {
  const semantics = trace.evaluation.semantics ?? ORIGINAL_SEMANTICS;
  const decision = await triage.decide(version, trace.patient, trace.answers, semantics);
  const replayed = decisionRecord(decision);
  const differences: string[] = [];
  if (!isDeepStrictEqual(replayed, trace.result)) {
    differences.push(`result: was ${JSON.stringify(trace.result)}, now ${JSON.stringify(replayed)}`);
  }
  const before = firedRules(trace.evaluation.rules, decision.evaluation.rules);
  const after = firedRules(decision.evaluation.rules, trace.evaluation.rules);
  if (!isDeepStrictEqual(before, after)) {
    differences.push(`rules fired: were [${before.join(', ')}], now [${after.join(', ')}]`);
  }
  if (!isDeepStrictEqual(trace.evaluation.facts, decision.evaluation.facts)) {
    differences.push('facts evaluated differ');
  }
  return { traceId: trace.id, versionHash: version.hash, semantics, identical: differences.length === 0, differences, original: trace.result, replayed };
}
