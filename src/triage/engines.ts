import { Engine, Operator, type RuleProperties } from 'json-rules-engine';
import { ASK_WHEN_PRIORITY, type PathwayVersion } from '../rulesets/version.js';

export const RULE_EVENT = 'decide';
export const ASK_WHEN_EVENT = 'ask';
export const askWhenRuleName = (questionId: string): string => `askWhen:${questionId}`;

/** Custom operators, for deployments that add their own (and for fail-safe tests). */
export type ExtraOperators = Operator[];

const answered = (value: unknown): boolean => value !== undefined;

/**
 * Builds a json-rules-engine Engine for one pathway version: its decision rules, then one
 * low-priority rule per askWhen so the same engine run says which questions apply.
 */
export function buildEngine(version: PathwayVersion, extraOperators: ExtraOperators = []): Engine {
  const engine = new Engine([], { allowUndefinedFacts: true });
  // json-rules-engine's notEqual/notIn are true for an undefined fact, which would let a rule
  // fire on a question nobody has answered. Every condition on an unanswered question is false.
  engine.addOperator(new Operator('notEqual', (a, b) => a !== b, answered));
  engine.addOperator(new Operator<unknown, unknown[]>('notIn', (a, b) => !b.includes(a), answered));
  for (const operator of extraOperators) {
    engine.addOperator(operator);
  }
  for (const { rule, enginePriority } of version.rules) {
    engine.addRule({
      name: rule.id,
      priority: enginePriority,
      conditions: rule.conditions,
      event: { type: RULE_EVENT, params: { ruleId: rule.id } },
    } as RuleProperties);
  }
  for (const question of version.questions) {
    if (question.askWhen) {
      engine.addRule({
        name: askWhenRuleName(question.id),
        priority: ASK_WHEN_PRIORITY,
        conditions: question.askWhen,
        event: { type: ASK_WHEN_EVENT, params: { questionId: question.id } },
      } as RuleProperties);
    }
  }
  return engine;
}

/**
 * json-rules-engine keeps run status on the Engine object: when one run() finishes while
 * another on the same Engine is between priority groups, the other silently skips its
 * lower-priority rules (which can be red flags). So every evaluation borrows an engine that
 * no other evaluation is using, and returns it only when its run has settled.
 */
export class EnginePool {
  private readonly idle: Engine[] = [];

  constructor(
    private readonly create: () => Engine,
    private readonly maxIdle = 64,
  ) {}

  acquire(): Engine {
    return this.idle.pop() ?? this.create();
  }

  release(engine: Engine): void {
    if (this.idle.length < this.maxIdle) {
      this.idle.push(engine);
    }
  }

  get idleCount(): number {
    return this.idle.length;
  }
}

/** One pool per pathway version, prepared once and shared by every request for that version. */
export class EngineRegistry {
  private readonly pools = new Map<string, EnginePool>();

  constructor(private readonly extraOperators: ExtraOperators = []) {}

  poolFor(version: PathwayVersion): EnginePool {
    let pool = this.pools.get(version.hash);
    if (!pool) {
      pool = new EnginePool(() => buildEngine(version, this.extraOperators));
      // Build one engine now so a broken version fails at load time, not on a patient.
      pool.release(pool.acquire());
      this.pools.set(version.hash, pool);
    }
    return pool;
  }
}
