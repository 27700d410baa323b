import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { scenarioAnswers, type ScenarioFile } from '../../src/rulesets/scenarios.js';
import type { PathwayVersion } from '../../src/rulesets/version.js';
import type { Answer, Patient } from '../../src/triage/answers.js';
import type { Decision } from '../../src/triage/decide.js';
import { DECISION_SEMANTICS, type DecisionSemantics } from '../../src/triage/settled.js';
import { Triage } from '../../src/triage/triage.js';
import { answerSets, propertyFailure } from './answer-sets.js';

/** What differential.test.ts asserts on, compared on a thread of its own (offThread in test/helpers.ts). */
export interface DifferentialRuns {
  /** Per semantics: the scenario steps compared, and each that differed. */
  scenarios: { semantics: DecisionSemantics; steps: number; differing: string[] }[];
  /** Per pathway version: fast-check's report of an answer set that differed, and the rule evaluations skipped and made. */
  random: { id: string; failure: string | null; skipped: number; evaluated: number }[];
}

/** Every way the `needed` decision differs from the `all` one; empty when they agree. */
function differences(full: Decision, lean: Decision): string[] {
  const out: string[] = [];
  const same = (what: string, a: unknown, b: unknown) => {
    if (!isDeepStrictEqual(a, b)) out.push(`${what}: all=${JSON.stringify(a)} needed=${JSON.stringify(b)}`);
  };
  same('status', full.status, lean.status);
  same('outcome', full.status === 'complete' ? full.outcome : null, lean.status === 'complete' ? lean.outcome : null);
  same('question', full.status === 'needs_answer' ? full.question.id : null, lean.status === 'needs_answer' ? lean.question.id : null);
  same('answers', full.answers, lean.answers);
  const [f, n] = [full.evaluation, lean.evaluation];
  for (const key of ['semantics', 'facts', 'dropped', 'next', 'decidedBy', 'settled', 'engineRuns'] as const) same(key, f[key], n[key]);
  same(
    'rule order',
    f.rules.map((r) => r.ruleId),
    n.rules.map((r) => r.ruleId),
  );
  f.rules.forEach((fr, i) => {
    const nr = n.rules[i]!;
    if (nr.notEvaluated === undefined) {
      same(`rule ${fr.ruleId}`, fr, nr);
    } else if (nr.notEvaluated === 'unanswered') {
      // Not handed to the engine, its value read from the questions still to be asked (false,
      // or unknown under settled-v2): json-rules-engine, given it, agrees.
      same(`rule ${fr.ruleId} fired`, fr.fired, nr.fired);
    } else {
      // Skipped below a rule that fired: only allowed where a higher-priority rule fired.
      const fired = n.rules.find((r) => r.fired === true);
      if (!fired || nr.priority >= fired.priority) out.push(`rule ${fr.ruleId} skipped as decided above, but nothing above it fired`);
    }
  });
  same(
    'askWhen order',
    f.askWhen.map((a) => a.questionId),
    n.askWhen.map((a) => a.questionId),
  );
  f.askWhen.forEach((fa, i) => {
    const na = n.askWhen[i]!;
    if (na.notEvaluated === undefined) same(`askWhen ${fa.questionId}`, fa, na);
    else same(`askWhen ${fa.questionId} held`, fa.held, na.held);
  });
  return out;
}

export async function runDifferential(rulesDir: string, files: ScenarioFile[], thorough: boolean, randomSetsPerPathway: number): Promise<DifferentialRuns> {
  const catalog = await loadRuleCatalog(rulesDir);
  const needed = new Triage(catalog.versions.values(), { timeoutMs: 10_000, ruleEvaluation: 'needed' });
  const all = new Triage(catalog.versions.values(), { timeoutMs: 10_000, ruleEvaluation: 'all' });
  const compare = async (version: PathwayVersion, patient: Patient, answers: Answer[], semantics?: DecisionSemantics): Promise<{ diff: string[]; lean: Decision }> => {
    const lean = await needed.decide(version, patient, answers, semantics);
    return { diff: differences(await all.decide(version, patient, answers, semantics), lean), lean };
  };
  const scenarios: DifferentialRuns['scenarios'] = [];
  // Both semantics: the original one still replays old traces.
  for (const semantics of DECISION_SEMANTICS) {
    let steps = 0;
    const differing: string[] = [];
    for (const file of files) {
      const version = catalog.versions.get(file.pathway)!;
      for (const scenario of file.scenarios) {
        const answers = scenarioAnswers(scenario) as Answer[];
        // first-fire-v1 only replays old traces: the start, middle and end of each walk suffice there.
        const points = semantics === 'settled-v2' || thorough ? answers.map((_, n) => n).concat(answers.length) : [...new Set([0, answers.length >> 1, answers.length])];
        for (const n of points) {
          const { diff } = await compare(version, scenario.patient, answers.slice(0, n), semantics);
          if (diff.length) differing.push(`${file.pathway} / ${scenario.name} after ${n} answers: ${diff.join('; ')}`);
          steps += 1;
        }
      }
    }
    scenarios.push({ semantics, steps, differing });
  }

  const random: DifferentialRuns['random'] = [];
  for (const version of catalog.versions.values()) {
    let skipped = 0;
    let evaluated = 0;
    const report = await fc.check(
      fc.asyncProperty(answerSets(version), async ({ patient, answers }) => {
        const { diff, lean } = await compare(version, patient, answers);
        skipped += lean.evaluation.rules.filter((r) => r.notEvaluated).length;
        evaluated += lean.evaluation.rules.filter((r) => !r.notEvaluated).length;
        if (diff.length) throw new Error(diff.join('\n'));
      }),
      { numRuns: randomSetsPerPathway },
    );
    random.push({ id: version.id, failure: propertyFailure(report), skipped, evaluated });
  }
  return { scenarios, random };
}
