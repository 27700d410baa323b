import { canonicalJson, sha256 } from '../canonical.js';
import { z } from 'zod';
import { durationHours } from './duration.js';
import {
  isInclude,
  ModuleFileSchema,
  PathwayFileSchema,
  RedFlagsFileSchema,
  SEXES,
  type ConditionNode,
  type ModuleFile,
  type Outcome,
  type Question,
  type RedFlagsFile,
  type Rule,
  type StoredPathway,
  type TopLevelCondition,
} from './schema.js';

/**
 * What a pathway version is made of: the pathway file, the global red flags it ran with, and the
 * modules it includes (the key is absent when it includes none, so versions stored before
 * modules existed keep their hashes).
 */
export interface PathwayDefinition {
  pathway: StoredPathway;
  redFlags: RedFlagsFile;
  modules?: ModuleFile[];
}

export type RuleScope = 'global_red_flag' | 'pathway' | 'module';

export interface RankedRule {
  rule: Rule;
  scope: RuleScope;
  /** The module the rule comes from (scope `module`). */
  module?: string;
  /** json-rules-engine priority: global red flags above every pathway rule, askWhen checks below. */
  enginePriority: number;
  outcome: Outcome;
}

/**
 * One immutable, content-addressed version of a pathway, ready to evaluate. The hash covers
 * the red flags and the included modules too, because they take part in every decision the
 * pathway makes.
 */
export interface PathwayVersion {
  id: string;
  title: string;
  version: string;
  hash: string;
  /** Canonical JSON of the definition: what is stored so the version can be replayed later. */
  canonical: string;
  definition: PathwayDefinition;
  /** Each included module and its version, in the order first included. */
  modules: { id: string; version: string }[];
  /**
   * Red-flag questions first, then the pathway's, with each module's questions where it is
   * included: the order they are asked. Conditions here are as the engine sees them (durations
   * in hours, see engineCondition); the definition keeps them as written.
   */
  questions: Question[];
  questionById: ReadonlyMap<string, Question>;
  /** Highest priority first; ties keep file order (red flags, pathway rules, module rules). */
  rules: RankedRule[];
  fallback: { id: string; outcome: Outcome };
}

/** Engine priority of askWhen checks: below every decision rule, which all have >= 2. */
export const ASK_WHEN_PRIORITY = 1;
const PATHWAY_RULE_OFFSET = 1;
const RED_FLAG_OFFSET = 1000;

/**
 * Where a rule ranks among all the rules a pathway version runs: global red flags above every
 * pathway and module rule, then by priority. Decisions and lint both rank by this, so they cannot disagree.
 */
export function enginePriority(rule: Rule, scope: RuleScope): number {
  return rule.priority + (scope === 'global_red_flag' ? RED_FLAG_OFFSET : PATHWAY_RULE_OFFSET);
}

/** A pathway's questions with every include replaced by the module's questions. */
export function expandQuestions(pathway: StoredPathway, modules: ReadonlyMap<string, ModuleFile>): { question: Question; module?: string }[] {
  return pathway.questions.flatMap((entry) => {
    if (!isInclude(entry)) return [{ question: entry }];
    const module = modules.get(entry.include);
    if (!module) throw new Error(`pathway ${pathway.id}: module ${entry.include} is not part of its definition`);
    return module.questions.map((question) => ({ question, module: module.id }));
  });
}

/** The ids of the modules a pathway includes, in the order first included. */
export function includedModuleIds(pathway: StoredPathway): string[] {
  return [...new Set(pathway.questions.filter(isInclude).map((e) => e.include))];
}

/**
 * A condition as json-rules-engine evaluates it: a comparison with a duration question compares
 * hours, as the answer does (see engineValue in triage/answers.ts).
 */
export function engineCondition<T extends ConditionNode>(node: T, isDuration: (fact: string) => boolean): T {
  if ('all' in node) return { all: node.all.map((c) => engineCondition(c, isDuration)) } as T;
  if ('any' in node) return { any: node.any.map((c) => engineCondition(c, isDuration)) } as T;
  return isDuration(node.fact) && typeof node.value === 'string' ? ({ ...node, value: durationHours(node.value) } as T) : node;
}

export function preparePathwayVersion(definition: PathwayDefinition): PathwayVersion {
  const { pathway, redFlags } = definition;
  const modules = new Map((definition.modules ?? []).map((m) => [m.id, m]));
  const canonical = canonicalJson(definition);
  const written = [...redFlags.questions, ...expandQuestions(pathway, modules).map((e) => e.question)];
  const durations = new Set(written.filter((q) => q.type === 'duration').map((q) => q.id));
  const isDuration = (fact: string) => durations.has(fact);
  const forEngine = durations.size === 0 ? <T extends ConditionNode>(c: T) => c : <T extends ConditionNode>(c: T) => engineCondition(c, isDuration);
  const questions = written.map((q) => (q.askWhen && durations.size ? { ...q, askWhen: forEngine<TopLevelCondition>(q.askWhen) } : q));
  const ranked: RankedRule[] = [
    ...redFlags.rules.map((rule) => rank(rule, 'global_red_flag', redFlags.outcomes, forEngine)),
    ...pathway.rules.map((rule) => rank(rule, 'pathway', pathway.outcomes, forEngine)),
    // A module's rules name the module's own outcomes.
    ...[...modules.values()].flatMap((m) => m.rules.map((rule) => ({ ...rank(rule, 'module', m.outcomes, forEngine), module: m.id }))),
  ];
  // Array.prototype.sort is stable, so equal priorities keep file order.
  ranked.sort((a, b) => b.enginePriority - a.enginePriority);
  const fallback = pathway.outcomes[pathway.fallback];
  if (!fallback) {
    throw new Error(`pathway ${pathway.id}: fallback outcome ${pathway.fallback} is not defined`);
  }
  return {
    id: pathway.id,
    title: pathway.title,
    version: pathway.version,
    hash: sha256(canonical),
    canonical,
    definition,
    modules: [...modules.values()].map((m) => ({ id: m.id, version: m.version })),
    questions,
    questionById: new Map(questions.map((q) => [q.id, q])),
    rules: ranked,
    fallback: { id: pathway.fallback, outcome: fallback },
  };
}

function rank(rule: Rule, scope: RuleScope, outcomes: Record<string, Outcome>, forEngine: (c: TopLevelCondition) => TopLevelCondition): RankedRule {
  const outcome = outcomes[rule.outcome];
  if (!outcome) {
    throw new Error(`rule ${rule.id}: outcome ${rule.outcome} is not defined`);
  }
  const conditions = forEngine(rule.conditions);
  return { rule: conditions === rule.conditions ? rule : { ...rule, conditions }, scope, enginePriority: enginePriority(rule, scope), outcome };
}

/**
 * A version rebuilt from its stored canonical content (the database, or a decision worker being
 * handed it), refused if the content does not hash to the version it claims to be.
 */
export function restorePathwayVersion(hash: string, content: string): PathwayVersion {
  const version = preparePathwayVersion(JSON.parse(content) as PathwayDefinition);
  if (version.hash !== hash) {
    throw new Error(`rule-set version ${hash} does not match its content hash ${version.hash}`);
  }
  return version;
}

/** How pathways stored before age bands, topics and search terms were written. */
const LegacyPathwaySchema = PathwayFileSchema.extend({
  applies: z.strictObject({
    minAgeYears: z.number().int().min(0),
    maxAgeYears: z.number().int().max(130),
    sexes: z.array(z.enum(SEXES)).min(1),
    otherwise: z.string().min(1),
  }),
  searchTerms: z.array(z.string()).optional(),
});

/**
 * A stored definition re-checked against the schema it was written to (releases re-check what
 * they serve): today's, or the one before age bands. The result is the content as stored.
 */
export function parseStoredDefinition(content: string): PathwayDefinition {
  const raw = JSON.parse(content) as { pathway?: { applies?: object }; redFlags: unknown; modules?: unknown[] };
  const legacy = raw.pathway?.applies !== undefined && 'minAgeYears' in raw.pathway.applies;
  const pathway = (legacy ? LegacyPathwaySchema : PathwayFileSchema).parse(raw.pathway) as StoredPathway;
  const redFlags = RedFlagsFileSchema.parse(raw.redFlags);
  const modules = raw.modules?.map((m) => ModuleFileSchema.parse(m));
  return { pathway, redFlags, ...(modules ? { modules } : {}) };
}

/** A pathway version by name and content hash: how traces, releases and readiness name one. */
export type PathwayRef = Pick<PathwayVersion, 'id' | 'version' | 'hash'>;

export const pathwayRef = (version: PathwayRef): PathwayRef => ({ id: version.id, version: version.version, hash: version.hash });
