import type { ConditionNode } from '../rulesets/schema.js';

/** Three-valued (Kleene) truth: null is "unknown", a condition on a question still to be asked. */
export type Kleene = boolean | null;

/** A condition as it was evaluated: for a leaf, the fact, operator, expected and actual value. */
export type ConditionTrace =
  | { all: ConditionTrace[]; result: Kleene }
  | { any: ConditionTrace[]; result: Kleene }
  | { fact: string; operator: string; expected: unknown; actual: unknown; result: Kleene };

/** `all`: false if any part is false, true only if every part is true, else unknown. */
function all(results: Kleene[]): Kleene {
  return results.includes(false) ? false : results.every((r) => r === true) ? true : null;
}

/** `any`: true if any part is true, false only if every part is false, else unknown. */
function any(results: Kleene[]): Kleene {
  return results.includes(true) ? true : results.every((r) => r === false) ? false : null;
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

/** How a leaf counts, given its fact and what json-rules-engine made of it (undefined: not run). */
export type LeafValue = (fact: string, engineResult: boolean | undefined) => Kleene;

/** json-rules-engine's own verdict on a leaf; a leaf it skipped has none. */
const asEvaluated: LeafValue = (_fact, result) => result ?? null;

/**
 * A condition json-rules-engine evaluated, as a trace. It records results on leaves only; groups
 * are derived from their children, three-valued. `leaf` decides what a leaf counts as (by
 * default the engine's own result).
 */
export function traceCondition(node: unknown, leaf: LeafValue = asEvaluated): ConditionTrace {
  const c = node as EngineCondition;
  if (c.all) {
    const parts = c.all.map((x) => traceCondition(x, leaf));
    return { all: parts, result: all(parts.map((x) => x.result)) };
  }
  if (c.any) {
    const parts = c.any.map((x) => traceCondition(x, leaf));
    return { any: parts, result: any(parts.map((x) => x.result)) };
  }
  const fact = c.fact ?? '';
  return { fact, operator: c.operator ?? '', expected: c.value, actual: c.factResult, result: leaf(fact, c.result) };
}

/** A condition no answer given bears on, valued leaf by leaf without json-rules-engine. */
export function staticTrace(node: ConditionNode, leaf: (fact: string) => Kleene): ConditionTrace {
  if ('all' in node) {
    const parts = node.all.map((x) => staticTrace(x, leaf));
    return { all: parts, result: all(parts.map((x) => x.result)) };
  }
  if ('any' in node) {
    const parts = node.any.map((x) => staticTrace(x, leaf));
    return { any: parts, result: any(parts.map((x) => x.result)) };
  }
  return { fact: node.fact, operator: node.operator, expected: node.value, actual: undefined, result: leaf(node.fact) };
}

/** The value of a condition with only its leaves on `known` facts counted (the rest unknown). */
export function knownValue(node: unknown, known: ReadonlySet<string>): Kleene {
  return traceCondition(node, (fact, result) => (known.has(fact) ? (result ?? null) : null)).result;
}

/** A traced condition revalued with some leaves' results replaced (for "how was it settled"). */
export function revalue(trace: ConditionTrace, leaf: (c: Extract<ConditionTrace, { fact: string }>) => Kleene): Kleene {
  if ('all' in trace) return all(trace.all.map((x) => revalue(x, leaf)));
  if ('any' in trace) return any(trace.any.map((x) => revalue(x, leaf)));
  return leaf(trace);
}

/**
 * The facts whose answers could still settle a condition: the leaves still unknown, inside
 * parts still unknown (a part already settled needs nothing more).
 */
export function unknownFacts(trace: ConditionTrace, out: Set<string>): void {
  if (trace.result !== null) return;
  if ('all' in trace) trace.all.forEach((x) => unknownFacts(x, out));
  else if ('any' in trace) trace.any.forEach((x) => unknownFacts(x, out));
  else out.add(trace.fact);
}
