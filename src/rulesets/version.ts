import { canonicalJson, sha256 } from '../canonical.js';
import type { Outcome, PathwayFile, Question, RedFlagsFile, Rule } from './schema.js';

/** What a pathway version is made of: the pathway file and the global red flags it ran with. */
export interface PathwayDefinition {
  pathway: PathwayFile;
  redFlags: RedFlagsFile;
}

export type RuleScope = 'global_red_flag' | 'pathway';

export interface RankedRule {
  rule: Rule;
  scope: RuleScope;
  /** json-rules-engine priority: global red flags above every pathway rule, askWhen checks below. */
  enginePriority: number;
  outcome: Outcome;
}

/**
 * One immutable, content-addressed version of a pathway, ready to evaluate. The hash covers
 * the red flags too, because they take part in every decision the pathway makes.
 */
export interface PathwayVersion {
  id: string;
  title: string;
  version: string;
  hash: string;
  /** Canonical JSON of the definition: what is stored so the version can be replayed later. */
  canonical: string;
  definition: PathwayDefinition;
  /** Red-flag questions first, then the pathway's, in file order: the order they are asked. */
  questions: Question[];
  questionById: ReadonlyMap<string, Question>;
  /** Highest priority first; ties keep file order (red flags before pathway rules). */
  rules: RankedRule[];
  fallback: { id: string; outcome: Outcome };
}

/** Engine priority of askWhen checks: below every decision rule, which all have >= 2. */
export const ASK_WHEN_PRIORITY = 1;
const PATHWAY_RULE_OFFSET = 1;
const RED_FLAG_OFFSET = 1000;

/**
 * Where a rule ranks among all the rules a pathway version runs: global red flags above every
 * pathway rule, then by priority. Decisions and lint both rank by this, so they cannot disagree.
 */
export function enginePriority(rule: Rule, scope: RuleScope): number {
  return rule.priority + (scope === 'global_red_flag' ? RED_FLAG_OFFSET : PATHWAY_RULE_OFFSET);
}

export function preparePathwayVersion(definition: PathwayDefinition): PathwayVersion {
  const { pathway, redFlags } = definition;
  const canonical = canonicalJson(definition);
  const questions = [...redFlags.questions, ...pathway.questions];
  const ranked: RankedRule[] = [
    ...redFlags.rules.map((rule) => rank(rule, 'global_red_flag', redFlags.outcomes)),
    ...pathway.rules.map((rule) => rank(rule, 'pathway', pathway.outcomes)),
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
    questions,
    questionById: new Map(questions.map((q) => [q.id, q])),
    rules: ranked,
    fallback: { id: pathway.fallback, outcome: fallback },
  };
}

function rank(rule: Rule, scope: RuleScope, outcomes: Record<string, Outcome>): RankedRule {
  const outcome = outcomes[rule.outcome];
  if (!outcome) {
    throw new Error(`rule ${rule.id}: outcome ${rule.outcome} is not defined`);
  }
  return { rule, scope, enginePriority: enginePriority(rule, scope), outcome };
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

/** A pathway version by name and content hash: how traces, releases and readiness name one. */
export type PathwayRef = Pick<PathwayVersion, 'id' | 'version' | 'hash'>;

export const pathwayRef = (version: PathwayRef): PathwayRef => ({ id: version.id, version: version.version, hash: version.hash });
