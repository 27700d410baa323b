import type { RuleCatalog } from '../rulesets/loader.js';
import { AGE_BANDS, type AgeBand } from '../rulesets/schema.js';
import { allTopics } from '../rulesets/topics.js';
import type { ScenarioFile } from '../rulesets/scenarios.js';
import { runScenario, type ScenarioResult } from '../triage/scenario-runner.js';
import type { Triage } from '../triage/triage.js';

export interface PathwayCoverage {
  pathway: string;
  rules: { total: number; covered: string[]; missed: string[] };
  redFlagsMissed: string[];
  questions: { total: number; asked: string[]; missed: string[] };
  outcomes: { total: number; reached: string[]; missed: string[] };
  /** Percentage of the pathway's own rules that decided at least one scenario. */
  rulePercent: number;
  /** From the command line, else the pathway file's `minRuleCoverage`, else none. */
  threshold: number | undefined;
  failures: string[];
}

export interface ModuleCoverage {
  module: string;
  /** Covered when a scenario of a pathway that includes the module was decided by the rule. */
  rules: { total: number; covered: string[]; missed: string[] };
  rulePercent: number;
  includedBy: string[];
  failures: string[];
}

/** The catalogue at a glance: what README and the coverage command print. */
export interface CoverageSummary {
  /** Topics with a variant serving each age band. */
  topicsByBand: Record<AgeBand, number>;
  topics: number;
  pathways: number;
  modules: number;
  scenarios: number;
  /** Every rule: global red flags, pathways' and modules' own. */
  rules: { total: number; covered: number; percent: number };
}

export interface CoverageReport {
  summary: CoverageSummary;
  pathways: PathwayCoverage[];
  modules: ModuleCoverage[];
  globalRedFlags: { total: number; covered: string[]; missed: string[] };
  scenarioFailures: { pathway: string; name: string; differences: string[] }[];
}

/**
 * What the scenarios exercise: a rule counts as covered when it decided a scenario, a question
 * when a scenario was asked it, an outcome when a scenario reached it. Global red flags are
 * shared, so scenarios of any pathway cover them.
 */
export async function coverage(catalog: RuleCatalog, triage: Triage, files: ScenarioFile[], minRulePercent?: number): Promise<CoverageReport> {
  const results = new Map<string, ScenarioResult[]>();
  const scenarioFailures: CoverageReport['scenarioFailures'] = [];
  for (const file of files) {
    const version = catalog.versions.get(file.pathway);
    for (const scenario of file.scenarios) {
      if (!version) {
        scenarioFailures.push({ pathway: file.pathway, name: scenario.name, differences: [`unknown pathway ${file.pathway}`] });
        continue;
      }
      const result = await runScenario(triage, version, scenario);
      if (!result.passed) scenarioFailures.push({ pathway: file.pathway, name: scenario.name, differences: result.differences });
      results.set(file.pathway, [...(results.get(file.pathway) ?? []), result]);
    }
  }
  const decidedBy = (rs: ScenarioResult[]) => new Set(rs.flatMap((r) => (r.decision?.status === 'complete' && r.decision.outcome.ruleId ? [r.decision.outcome.ruleId] : [])));
  const allDecided = decidedBy([...results.values()].flat());
  const split = <T>(all: T[], hit: Set<T>) => ({ total: all.length, covered: all.filter((x) => hit.has(x)), missed: all.filter((x) => !hit.has(x)) });

  const redFlagIds = new Set(catalog.redFlags.content.questions.map((q) => q.id));
  const pathways = catalog.pathways.map(({ content }) => {
    const rs = results.get(content.id) ?? [];
    const decided = decidedBy(rs);
    const rules = split(
      content.rules.map((r) => r.id),
      decided,
    );
    const asked = new Set(rs.flatMap((r) => r.asked));
    const questions = split(
      catalog.versions
        .get(content.id)!
        .questions.filter((q) => !redFlagIds.has(q.id))
        .map((q) => q.id),
      asked,
    );
    const outcomeOf = (ruleId: string | null) => (ruleId ? content.rules.find((x) => x.id === ruleId)?.outcome : content.fallback);
    const reached = new Set(rs.flatMap((r) => (r.decision?.status === 'complete' ? [outcomeOf(r.decision.outcome.ruleId) ?? ''] : [])));
    const outcomes = split(Object.keys(content.outcomes), reached);
    const redFlagsMissed = content.rules.filter((r) => r.redFlag && !decided.has(r.id)).map((r) => r.id);
    const rulePercent = rules.total ? Math.round((rules.covered.length / rules.total) * 1000) / 10 : 100;
    const threshold = minRulePercent ?? content.minRuleCoverage;
    const failures = [
      ...redFlagsMissed.map((id) => `red-flag rule ${id} is not covered by any scenario`),
      ...(threshold !== undefined && rulePercent < threshold ? [`rule coverage ${rulePercent}% is below the threshold of ${threshold}%`] : []),
    ];
    return {
      pathway: content.id,
      rules: { total: rules.total, covered: rules.covered, missed: rules.missed },
      redFlagsMissed,
      questions: { total: questions.total, asked: questions.covered, missed: questions.missed },
      outcomes: { total: outcomes.total, reached: outcomes.covered, missed: outcomes.missed },
      rulePercent,
      threshold,
      failures,
    };
  });
  const globals = split(
    catalog.redFlags.content.rules.map((r) => r.id),
    allDecided,
  );
  const modules = catalog.modules.map(({ content }): ModuleCoverage => {
    const includedBy = [...catalog.versions.values()].filter((v) => v.modules.some((m) => m.id === content.id)).map((v) => v.id);
    const decided = decidedBy(includedBy.flatMap((id) => results.get(id) ?? []));
    const rules = split(
      content.rules.map((r) => r.id),
      decided,
    );
    const rulePercent = rules.total ? Math.round((rules.covered.length / rules.total) * 1000) / 10 : 100;
    const failures = content.rules.filter((r) => r.redFlag && !decided.has(r.id)).map((r) => `red-flag rule ${r.id} is not covered by any scenario of a pathway that includes it`);
    return { module: content.id, rules, rulePercent, includedBy, failures };
  });
  const topics = allTopics(catalog);
  const ruleTotal = globals.total + pathways.reduce((n, p) => n + p.rules.total, 0) + modules.reduce((n, m) => n + m.rules.total, 0);
  const ruleCovered = globals.covered.length + pathways.reduce((n, p) => n + p.rules.covered.length, 0) + modules.reduce((n, m) => n + m.rules.covered.length, 0);
  const summary: CoverageSummary = {
    topicsByBand: Object.fromEntries(AGE_BANDS.map((b) => [b, topics.filter((x) => x.ageBands.includes(b)).length])) as Record<AgeBand, number>,
    topics: topics.length,
    pathways: catalog.pathways.length,
    modules: catalog.modules.length,
    scenarios: files.reduce((n, f) => n + f.scenarios.length, 0),
    rules: { total: ruleTotal, covered: ruleCovered, percent: ruleTotal ? Math.round((ruleCovered / ruleTotal) * 1000) / 10 : 100 },
  };
  return { summary, pathways, modules, globalRedFlags: globals, scenarioFailures };
}
