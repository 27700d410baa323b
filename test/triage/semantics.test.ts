import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import { compareUrgency } from '../../src/authoring/impact.js';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import type { PathwayVersion } from '../../src/rulesets/version.js';
import { applyAnswer, givenAnswers, type Answer, type Patient } from '../../src/triage/answers.js';
import type { Decision } from '../../src/triage/decide.js';
import type { DecisionSemantics } from '../../src/triage/settled.js';
import { Triage } from '../../src/triage/triage.js';
import { BUNDLED_RULES } from '../helpers.js';
import { completeAnswerSets } from './answer-sets.js';

/**
 * Question order can no longer change an outcome: walked one question at a time, as a patient
 * answers, every bundled pathway reaches the outcome its complete answer set gives at once, and
 * never a less urgent one.
 */
const catalog = await loadRuleCatalog(BUNDLED_RULES);
const triage = new Triage(catalog.versions.values(), { timeoutMs: 10_000 });
// Set to first-fire-v1 to see the property fail where file order decides (TEST_SEMANTICS).
const SEMANTICS = process.env.TEST_SEMANTICS as DecisionSemantics | undefined;
const RUNS_PER_PATHWAY = 200;

/** The walk a patient takes: each question asked is answered from `given`, until an outcome. */
export async function walk(tr: Triage, version: PathwayVersion, patient: Patient, given: Record<string, Answer['value']>, semantics?: DecisionSemantics): Promise<Decision> {
  let decision = await tr.decide(version, patient, [], semantics);
  for (let step = 0; decision.status === 'needs_answer'; step++) {
    if (step > version.questions.length) throw new Error(`asked ${decision.question.id} again after ${step} answers`);
    const { id } = decision.question;
    decision = await tr.decide(version, patient, applyAnswer(version, decision.answers, id, id, given[id]), semantics);
  }
  return decision;
}

const described = (d: Decision) => (d.status === 'complete' ? `${d.outcome.kind} ${d.outcome.disposition} (${d.outcome.ruleId ?? 'fallback'})` : `asks ${d.question.id}`);

for (const version of catalog.versions.values()) {
  t.test(`${version.id}: the walk reaches the outcome of the complete answer set`, async (t) => {
    let asked = 0;
    await fc.assert(
      fc.asyncProperty(completeAnswerSets(version), async ({ patient, given }) => {
        const stepwise = await walk(triage, version, patient, given, SEMANTICS);
        const atOnce = await triage.decide(version, patient, givenAnswers(version, given), SEMANTICS);
        asked += stepwise.answers.length;
        if (stepwise.status !== 'complete' || atOnce.status !== 'complete') throw new Error(`no outcome: walk ${described(stepwise)}, at once ${described(atOnce)}`);
        if (compareUrgency(stepwise.outcome, atOnce.outcome) < 0) throw new Error(`the walk is less urgent: ${described(stepwise)} against ${described(atOnce)}`);
        if (!isDeepStrictEqual(stepwise.outcome, atOnce.outcome)) throw new Error(`the walk gives ${described(stepwise)}, the answers at once ${described(atOnce)}`);
      }),
      { numRuns: RUNS_PER_PATHWAY },
    );
    t.ok(asked > RUNS_PER_PATHWAY, `${RUNS_PER_PATHWAY} walks, ${asked} questions answered`);
  });
}
