import type { ConditionNode } from '../rulesets/schema.js';

/** Three-valued (Kleene) truth: null is "unknown", a condition on a question still to be asked. */
export type Kleene = boolean | null;

/** A condition as it was evaluated: for a leaf, the fact, operator, expected and actual value. */
/** `actual` is absent where the leaf was not evaluated (its question unanswered), as a stored trace reads it back. */
export type ConditionTrace = { all: ConditionTrace[]; result: Kleene } | { any: ConditionTrace[]; result: Kleene } | { fact: string; operator: string; expected: unknown; actual?: unknown; result: Kleene };

/** `all`: false if any part is false, true only if every part is true, else unknown. */
export function all(results: Kleene[]): Kleene {
  return results.includes(false) ? false : results.every((r) => r === true) ? true : null;
}

/** `any`: true if any part is true, false only if every part is false, else unknown. */
export function any(results: Kleene[]): Kleene {
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

/**
 * The part of a condition that names a known fact: all json-rules-engine needs to evaluate
 * (settled-v2). Every other leaf is unknown, or false where its question can no longer be asked,
 * whatever the engine would make of it. Undefined when no leaf names a known fact.
 */
export function knownPart(node: ConditionNode, known: ReadonlySet<string>): ConditionNode | undefined {
  if (!namesKnown(node, known)) return undefined;
  if ('all' in node || 'any' in node) {
    const parts = ('all' in node ? node.all : node.any).map((c) => knownPart(c, known)).filter((c) => c !== undefined);
    return parts.length === 0 ? undefined : 'all' in node ? { all: parts } : { any: parts };
  }
  return known.has(node.fact) ? node : undefined;
}

/** The facts a condition names, worked out once per condition (rule sets are immutable). */
const factsByNode = new WeakMap<ConditionNode, readonly string[]>();
function factsIn(node: ConditionNode): readonly string[] {
  let facts = factsByNode.get(node);
  if (!facts) {
    facts = 'all' in node ? node.all.flatMap(factsIn) : 'any' in node ? node.any.flatMap(factsIn) : [node.fact];
    factsByNode.set(node, facts);
  }
  return facts;
}

const namesKnown = (node: ConditionNode, known: ReadonlySet<string>): boolean => factsIn(node).some((f) => known.has(f));

/**
 * A condition traced from json-rules-engine's evaluation of its known part (knownPart): the
 * leaves it evaluated where they are, every other leaf valued by `leaf` without a result.
 */
export function mergeTrace(node: ConditionNode, evaluated: unknown, known: ReadonlySet<string>, leaf: LeafValue): ConditionTrace {
  const e = evaluated as EngineCondition;
  if ('all' in node || 'any' in node) {
    const children = 'all' in node ? node.all : node.any;
    const done = ('all' in node ? e.all : e.any) ?? [];
    let next = 0;
    const parts = children.map((c) => (namesKnown(c, known) ? mergeTrace(c, done[next++], known, leaf) : staticTrace(c, (fact) => leaf(fact, undefined))));
    const results = parts.map((x) => x.result);
    return 'all' in node ? { all: parts, result: all(results) } : { any: parts, result: any(results) };
  }
  return { fact: node.fact, operator: node.operator, expected: e.value, actual: e.factResult, result: leaf(node.fact, e.result) };
}

/** The value of a condition no answer given bears on, leaf by leaf (staticTrace without the trace). */
export function staticValue(node: ConditionNode, leaf: (fact: string) => Kleene): Kleene {
  if ('all' in node || 'any' in node) {
    // One false part settles an `all`, one true part an `any`.
    const [parts, settles] = 'all' in node ? [node.all, false] : [node.any, true];
    let result: Kleene = !settles;
    for (const c of parts) {
      const r = staticValue(c, leaf);
      if (r === settles) return settles;
      if (r === null) result = null;
    }
    return result;
  }
  return leaf(node.fact);
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
export function unknownFacts(trace: ConditionTrace, found: (fact: string) => void): void {
  if (trace.result !== null) return;
  if ('all' in trace) for (const x of trace.all) unknownFacts(x, found);
  else if ('any' in trace) for (const x of trace.any) unknownFacts(x, found);
  else found(trace.fact);
}
