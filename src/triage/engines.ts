import { Engine, Fact, Operator, type RuleProperties, type RuleResult } from 'json-rules-engine';
import { OPERATORS, PATIENT_FACTS, type ConditionNode } from '../rulesets/schema.js';
import { ASK_WHEN_PRIORITY, type PathwayVersion } from '../rulesets/version.js';
import { knownPart, mergeTrace } from './kleene.js';
import type { DecisionSemantics } from './settled.js';

export const RULE_EVENT = 'decide';
export const ASK_WHEN_EVENT = 'ask';
const ASK_WHEN_PREFIX = 'askWhen:';
export const askWhenRuleName = (questionId: string): string => `${ASK_WHEN_PREFIX}${questionId}`;
const askWhenQuestion = (ruleName: string): string | undefined => (ruleName.startsWith(ASK_WHEN_PREFIX) ? ruleName.slice(ASK_WHEN_PREFIX.length) : undefined);

/** Custom operators, for deployments that add their own (and for fail-safe tests). */
export type ExtraOperators = Operator[];

/**
 * How many rules json-rules-engine evaluates for a decision:
 * - `needed` (the default): only rules whose value the answers so far can bear on (first-fire-v1:
 *   only rules that can still fire), and none below the priority at which a rule has fired;
 * - `all`: every rule and every askWhen, every time (the reference the differential test checks
 *   `needed` against, and a switch for operators who want it).
 */
export const RULE_EVALUATION_MODES = ['needed', 'all'] as const;
export type RuleEvaluationMode = (typeof RULE_EVALUATION_MODES)[number];

const answered = (value: unknown): boolean => value !== undefined;

/**
 * Whether a condition can hold while the questions outside `known` are unanswered. Every
 * built-in operator is false on an unanswered question (notEqual and notIn are replaced below
 * to make that so), unless a deployment has replaced the operator with its own.
 */
export function canHold(node: ConditionNode, known: ReadonlySet<string>, falseWhenUnanswered: ReadonlySet<string>): boolean {
  if ('all' in node) {
    return node.all.every((child) => canHold(child, known, falseWhenUnanswered));
  }
  if ('any' in node) {
    return node.any.some((child) => canHold(child, known, falseWhenUnanswered));
  }
  return known.has(node.fact) || !falseWhenUnanswered.has(node.operator);
}

/** Why a run ended before json-rules-engine reached every rule it holds. */
export type EarlyStop = { reason: 'decided'; priority: number } | { reason: 'stale'; questionId: string };

const UNCACHED = { cache: false };

/** One engine, lent to one evaluation at a time, and how its current run ended. */
export class LentEngine {
  stop: EarlyStop | null = null;

  constructor(readonly engine: Engine) {}

  async run(facts: Record<string, unknown>): Promise<{ results: RuleResult[]; stop: EarlyStop | null }> {
    this.stop = null;
    // The answers are constant facts, which json-rules-engine reads from the fact itself. Cached,
    // it would also hash each one into a cache key that is never read (a few % of a decision).
    const runtime: Record<string, Fact> = {};
    for (const id in facts) runtime[id] = new Fact(id, facts[id], UNCACHED);
    const { results, failureResults } = await this.engine.run(runtime);
    return { results: [...results, ...failureResults], stop: this.stop };
  }
}

/**
 * json-rules-engine keeps run status on the Engine object: when one run() finishes while
 * another on the same Engine is between priority groups, the other silently skips its
 * lower-priority rules (which can be red flags). So every evaluation borrows an engine that
 * no other evaluation is using, and returns it only when its run has settled.
 */
export class EnginePool {
  private readonly idle: LentEngine[] = [];

  constructor(
    private readonly create: () => LentEngine,
    private readonly maxIdle = 8,
  ) {}

  acquire(): LentEngine {
    return this.idle.pop() ?? this.create();
  }

  release(engine: LentEngine): void {
    if (this.idle.length < this.maxIdle) {
      this.idle.push(engine);
    }
  }

  get idleCount(): number {
    return this.idle.length;
  }
}

/** The rules and askWhen checks one evaluation hands to json-rules-engine, and its engines. */
export interface RulePlan {
  rules: ReadonlySet<string>;
  askWhen: ReadonlySet<string>;
  pool: EnginePool;
  /**
   * settled-v2 plans: the facts known. Its engines hold only the part of each condition that
   * names one (knownPart); the results are read back against the whole condition (mergeTrace).
   */
  known?: ReadonlySet<string>;
}

/** What a planned engine is built for: the rules it holds and the facts known when it runs. */
interface PlanSpec {
  rules: ReadonlySet<string>;
  askWhen: ReadonlySet<string>;
  known: ReadonlySet<string>;
  semantics: DecisionSemantics;
}

/**
 * Builds a json-rules-engine Engine for the chosen rules of one pathway version, plus one rule
 * per askWhen so the same run says which questions apply. Given a plan, the askWhen checks
 * run first and the run stops as soon as an answer turns out stale or a decision rule fires:
 * every rule at or above the firing rule's priority has been evaluated by then, and those are
 * all that decide. The engine is never shared while it runs (EnginePool), so stop() touches
 * only this evaluation.
 *
 * json-rules-engine deep-copies each rule's conditions into its result. package.json has it use
 * packages/condition-clone for that in place of `clone`: the same copies (Conditions still,
 * sharing nothing) for JSON-shaped rules, refusing anything else, and the same decisions.
 */
export function buildEngine(version: PathwayVersion, extraOperators: ExtraOperators = [], plan?: PlanSpec): LentEngine {
  const engine = new Engine([], { allowUndefinedFacts: true });
  const lent = new LentEngine(engine);
  // json-rules-engine's notEqual/notIn are true for an undefined fact, which would let a rule
  // fire on a question nobody has answered. Every condition on an unanswered question is false.
  engine.addOperator(new Operator('notEqual', (a, b) => a !== b, answered));
  engine.addOperator(new Operator<unknown, unknown[]>('notIn', (a, b) => !b.includes(a), answered));
  for (const operator of extraOperators) {
    engine.addOperator(operator);
  }
  const askWhenPriority = plan ? Math.max(ASK_WHEN_PRIORITY, ...version.rules.map((r) => r.enginePriority)) + 1 : ASK_WHEN_PRIORITY;
  // settled-v2 hands json-rules-engine only what it can evaluate: the leaves on known facts.
  const evaluable = plan?.semantics === 'settled-v2' ? (c: ConditionNode) => knownPart(c, plan.known)! : (c: ConditionNode) => c;
  const conditionsOf = new Map<string, ConditionNode>();
  for (const { rule, enginePriority } of version.rules) {
    if (plan && !plan.rules.has(rule.id)) continue;
    conditionsOf.set(rule.id, rule.conditions);
    engine.addRule({
      name: rule.id,
      priority: enginePriority,
      conditions: evaluable(rule.conditions),
      // No params: json-rules-engine deep-clones the event into every rule result, and the rule's
      // name already says which rule it is.
      event: { type: RULE_EVENT },
    } as RuleProperties);
  }
  for (const question of version.questions) {
    if (!question.askWhen || (plan && !plan.askWhen.has(question.id))) continue;
    engine.addRule({
      name: askWhenRuleName(question.id),
      priority: askWhenPriority,
      conditions: evaluable(question.askWhen),
      event: { type: ASK_WHEN_EVENT },
    } as RuleProperties);
  }
  if (plan) {
    // settled-v2 stops only at a rule the known facts alone make true: json-rules-engine's own
    // verdict counts a deployment's operator that is true on an unanswered question.
    const fires =
      plan.semantics === 'settled-v2'
        ? (result: RuleResult) => mergeTrace(conditionsOf.get(result.name as string)!, result.conditions, plan.known, (fact, r) => (plan.known.has(fact) ? (r ?? null) : null)).result === true
        : () => true;
    engine.on('success', (event, _almanac, result) => {
      if (event.type === RULE_EVENT && lent.stop === null && fires(result)) {
        lent.stop = { reason: 'decided', priority: result.priority as number };
        engine.stop();
      }
    });
    engine.on('failure', (event, _almanac, result) => {
      const questionId = askWhenQuestion(result.name as string);
      if (event.type === ASK_WHEN_EVENT && questionId && plan.known.has(questionId) && lent.stop === null) {
        lent.stop = { reason: 'stale', questionId };
        engine.stop();
      }
    });
  }
  return lent;
}

/** Plans kept per version: enough for every answer path a pathway has, bounded all the same. */
const MAX_PLANS_PER_VERSION = 256;

/** The plans of one pathway version, made once per set of answered questions and reused. */
export class VersionPlans {
  private readonly plans = new Map<string, RulePlan>();
  private readonly everything: RulePlan | undefined;
  private readonly falseWhenUnanswered: ReadonlySet<string>;

  constructor(
    private readonly version: PathwayVersion,
    mode: RuleEvaluationMode,
    private readonly extraOperators: ExtraOperators,
  ) {
    // An operator a deployment replaces may be true on an unanswered question: never skip on it.
    const replaced = new Set(extraOperators.map((o) => o.name));
    this.falseWhenUnanswered = new Set(OPERATORS.filter((o) => !replaced.has(o)));
    if (mode === 'all') {
      const rules = new Set(version.rules.map((r) => r.rule.id));
      const askWhen = new Set(version.questions.filter((q) => q.askWhen).map((q) => q.id));
      this.everything = { rules, askWhen, pool: new EnginePool(() => buildEngine(version, extraOperators)) };
    }
    // Build an engine with every rule now, so a broken version fails at load time, not on a patient.
    buildEngine(version, extraOperators);
  }

  /** The plan for an evaluation whose answered questions are `answeredIds`. */
  plan(answeredIds: ReadonlySet<string>, semantics: DecisionSemantics): RulePlan {
    if (this.everything) {
      return this.everything;
    }
    const key = `${semantics}:${this.version.questions.map((q) => (answeredIds.has(q.id) ? '1' : '0')).join('')}`;
    const cached = this.plans.get(key);
    if (cached) {
      // Most recently used last, so the oldest is the one evicted.
      this.plans.delete(key);
      this.plans.set(key, cached);
      return cached;
    }
    const known = new Set<string>([...PATIENT_FACTS, ...answeredIds]);
    const needs = semantics === 'settled-v2' ? (c: ConditionNode) => knownPart(c, known) !== undefined : (c: ConditionNode) => canHold(c, known, this.falseWhenUnanswered);
    const rules = new Set(this.version.rules.filter((r) => needs(r.rule.conditions)).map((r) => r.rule.id));
    const askWhen = new Set(this.version.questions.filter((q) => q.askWhen && needs(q.askWhen)).map((q) => q.id));
    const spec: PlanSpec = { rules, askWhen, known, semantics };
    const plan: RulePlan = { rules, askWhen, pool: new EnginePool(() => buildEngine(this.version, this.extraOperators, spec), 2), ...(semantics === 'settled-v2' ? { known } : {}) };
    this.plans.set(key, plan);
    if (this.plans.size > MAX_PLANS_PER_VERSION) {
      this.plans.delete(this.plans.keys().next().value!);
    }
    return plan;
  }
}

/** Plans per pathway version, prepared once and shared by every request for that version. */
export class EngineRegistry {
  private readonly versions = new Map<string, VersionPlans>();

  constructor(
    private readonly mode: RuleEvaluationMode = 'needed',
    private readonly extraOperators: ExtraOperators = [],
  ) {}

  plansFor(version: PathwayVersion): VersionPlans {
    let plans = this.versions.get(version.hash);
    if (!plans) {
      plans = new VersionPlans(version, this.mode, this.extraOperators);
      this.versions.set(version.hash, plans);
    }
    return plans;
  }
}
