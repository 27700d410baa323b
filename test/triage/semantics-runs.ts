import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import type { PathwayVersion } from '../../src/rulesets/version.js';
import { applyAnswer, givenAnswers, type Answer, type Patient } from '../../src/triage/answers.js';
import type { Decision } from '../../src/triage/decide.js';
import type { DecisionSemantics } from '../../src/triage/settled.js';
import { Triage } from '../../src/triage/triage.js';
import { compareUrgency } from '../../src/triage/urgency.js';
import { completeAnswerSets, propertyFailure } from './answer-sets.js';

/** The walks semantics.test.ts checks, and its property runs, made on a thread of their own (offThread in test/helpers.ts). */

/** The walk a patient takes, every step: each question asked is answered from `given`, until an outcome. */
export async function steps(tr: Triage, version: PathwayVersion, patient: Patient, given: Record<string, Answer['value']>, semantics?: DecisionSemantics): Promise<Decision[]> {
  const walked = [await tr.decide(version, patient, [], semantics)];
  for (let decision = walked[0]!; decision.status === 'needs_answer';) {
    if (walked.length > version.questions.length + 1) throw new Error(`asked ${decision.question.id} again after ${walked.length} steps`);
    const { id } = decision.question;
    decision = await tr.decide(version, patient, applyAnswer(version, decision.answers, id, id, given[id]), semantics);
    walked.push(decision);
  }
  return walked;
}

export const walk = async (...args: Parameters<typeof steps>): Promise<Decision> => (await steps(...args)).at(-1)!;

/** Whether a walk reaches the outcome of its complete answer set, at once; why not, if not. */
export async function walkAgrees(tr: Triage, version: PathwayVersion, patient: Patient, given: Record<string, Answer['value']>, semantics?: DecisionSemantics): Promise<string | undefined> {
  const stepwise = await walk(tr, version, patient, given, semantics);
  const atOnce = await tr.decide(version, patient, givenAnswers(version, given), semantics);
  if (stepwise.status !== 'complete' || atOnce.status !== 'complete') return `no outcome: walk ${described(stepwise)}, at once ${described(atOnce)}`;
  if (compareUrgency(stepwise.outcome, atOnce.outcome) < 0) return `the walk is less urgent: ${described(stepwise)} against ${described(atOnce)}`;
  if (!isDeepStrictEqual(stepwise.outcome, atOnce.outcome)) return `the walk gives ${described(stepwise)}, the answers at once ${described(atOnce)}`;
  return undefined;
}

const described = (d: Decision) => (d.status === 'complete' ? `${d.outcome.kind} ${d.outcome.disposition} (${d.outcome.ruleId ?? 'fallback'})` : `asks ${d.question.id}`);

/** Per pathway version of the rules in `rulesDir`: whether `runs` walks reach the outcome of their complete answer sets (propertyFailure). */
export async function walksAgree(rulesDir: string, runs: number, semantics?: DecisionSemantics): Promise<{ id: string; failure: string | null }[]> {
  const catalog = await loadRuleCatalog(rulesDir);
  const triage = new Triage(catalog.versions.values(), { timeoutMs: 10_000 });
  const results = [];
  for (const version of catalog.versions.values()) {
    const report = await fc.check(
      fc.asyncProperty(completeAnswerSets(version), async ({ patient, given }) => {
        const why = await walkAgrees(triage, version, patient, given, semantics);
        if (why) throw new Error(why);
      }),
      { numRuns: runs },
    );
    results.push({ id: version.id, failure: propertyFailure(report) });
  }
  return results;
}

/** Whether any of `runs` walks of one pathway in `rulesDir` disagrees with its complete answer set under `semantics`. */
export async function walksDisagree(rulesDir: string, pathwayId: string, semantics: DecisionSemantics, runs: number): Promise<{ failed: boolean; numRuns: number }> {
  const catalog = await loadRuleCatalog(rulesDir);
  const version = catalog.versions.get(pathwayId)!;
  const triage = new Triage(catalog.versions.values(), { timeoutMs: 10_000 });
  const { failed, numRuns } = await fc.check(
    fc.asyncProperty(completeAnswerSets(version), async ({ patient, given }) => (await walkAgrees(triage, version, patient, given, semantics)) === undefined),
    { numRuns: runs },
  );
  return { failed, numRuns };
}
