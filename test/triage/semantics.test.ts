import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { impact } from '../../src/authoring/impact.js';
import { lintCatalog } from '../../src/authoring/lint.js';
import { GENESIS_HASH, draftTrace, sealTrace, type TraceBody } from '../../src/traces/trace.js';
import { compareUrgency } from '../../src/triage/urgency.js';
import { loadRuleCatalog, type RuleCatalog } from '../../src/rulesets/loader.js';
import type { PathwayVersion } from '../../src/rulesets/version.js';
import { applyAnswer, givenAnswers, type Answer, type Patient } from '../../src/triage/answers.js';
import type { Decision } from '../../src/triage/decide.js';
import type { DecisionSemantics } from '../../src/triage/settled.js';
import { Triage } from '../../src/triage/triage.js';
import { BUNDLED_RULES, REPO, tempDir, THOROUGH } from '../helpers.js';
import { completeAnswerSets } from './answer-sets.js';

/**
 * Question order can no longer change an outcome: walked one question at a time, as a patient
 * answers, every bundled pathway reaches the outcome its complete answer set gives at once, and
 * never a less urgent one.
 */
const catalog = await loadRuleCatalog(BUNDLED_RULES);
const MODULE_FILES = catalog.modules.map((m) => path.basename(m.source.file));
const triage = new Triage(catalog.versions.values(), { timeoutMs: 10_000 });
// Set to first-fire-v1 to see the property fail where file order decides (TEST_SEMANTICS).
const SEMANTICS = process.env.TEST_SEMANTICS as DecisionSemantics | undefined;
// Spread over the content (see differential.test.ts); TEST_THOROUGH=1 restores the full count.
const RUNS_PER_PATHWAY = THOROUGH ? 200 : Math.max(12, Math.ceil(1000 / catalog.versions.size));

/** The walk a patient takes, every step: each question asked is answered from `given`, until an outcome. */
async function steps(tr: Triage, version: PathwayVersion, patient: Patient, given: Record<string, Answer['value']>, semantics?: DecisionSemantics): Promise<Decision[]> {
  const walked = [await tr.decide(version, patient, [], semantics)];
  for (let decision = walked[0]!; decision.status === 'needs_answer';) {
    if (walked.length > version.questions.length + 1) throw new Error(`asked ${decision.question.id} again after ${walked.length} steps`);
    const { id } = decision.question;
    decision = await tr.decide(version, patient, applyAnswer(version, decision.answers, id, id, given[id]), semantics);
    walked.push(decision);
  }
  return walked;
}

const walk = async (...args: Parameters<typeof steps>): Promise<Decision> => (await steps(...args)).at(-1)!;

/** Whether a walk reaches the outcome of its complete answer set, at once; why not, if not. */
async function walkAgrees(tr: Triage, version: PathwayVersion, patient: Patient, given: Record<string, Answer['value']>, semantics?: DecisionSemantics): Promise<string | undefined> {
  const stepwise = await walk(tr, version, patient, given, semantics);
  const atOnce = await tr.decide(version, patient, givenAnswers(version, given), semantics);
  if (stepwise.status !== 'complete' || atOnce.status !== 'complete') return `no outcome: walk ${described(stepwise)}, at once ${described(atOnce)}`;
  if (compareUrgency(stepwise.outcome, atOnce.outcome) < 0) return `the walk is less urgent: ${described(stepwise)} against ${described(atOnce)}`;
  if (!isDeepStrictEqual(stepwise.outcome, atOnce.outcome)) return `the walk gives ${described(stepwise)}, the answers at once ${described(atOnce)}`;
  return undefined;
}

const described = (d: Decision) => (d.status === 'complete' ? `${d.outcome.kind} ${d.outcome.disposition} (${d.outcome.ruleId ?? 'fallback'})` : `asks ${d.question.id}`);

for (const version of catalog.versions.values()) {
  t.test(`${version.id}: the walk reaches the outcome of the complete answer set`, async (t) => {
    await fc.assert(
      fc.asyncProperty(completeAnswerSets(version), async ({ patient, given }) => {
        const why = await walkAgrees(triage, version, patient, given, SEMANTICS);
        if (why) throw new Error(why);
      }),
      { numRuns: RUNS_PER_PATHWAY },
    );
    t.pass(`${RUNS_PER_PATHWAY} walks agree with their complete answer sets`);
  });
}

/** The bundled fever-adult pathway with the rule of issue 25 added (test/fixtures/late-rule). */
async function lateRule(t: Test): Promise<{ catalog: RuleCatalog; version: PathwayVersion; triage: Triage }> {
  const dir = tempDir(t);
  // The catch-all is required in every rule set, and it includes shared modules.
  for (const name of ['red-flags.yaml', 'dispositions.yaml', 'something-else.yaml', 'fever-adult.yaml', ...MODULE_FILES]) cpSync(path.join(BUNDLED_RULES, name), path.join(dir, name));
  const file = path.join(dir, 'fever-adult.yaml');
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf('  - id: fa-fever-5-days');
  writeFileSync(file, text.slice(0, at) + readFileSync(path.join(REPO, 'test/fixtures/late-rule/fever-adult-rule.yaml'), 'utf8') + text.slice(at));
  const catalog = await loadRuleCatalog(dir);
  return { catalog, version: catalog.versions.get('fever-adult')!, triage: new Triage(catalog.versions.values(), { timeoutMs: 10_000 }) };
}

const ISSUE_PATIENT: Patient = { ageYears: 70, sex: 'male' };
const ISSUE_ANSWERS: Record<string, Answer['value']> = {
  emergency_signs: ['none'],
  sepsis_signs: ['none'],
  immunity: ['none'],
  has_thermometer: true,
  temperature: 39.2,
  heat: false,
  moderate_signs: ['behaviour_change'],
  travel: 'no_travel',
  not_improving: false,
  five_days_or_more: false,
  viral_symptoms: true,
};

t.test('issue 25: a 70-year-old at 39.2C with a change in behaviour is called back within 1 hour', async (t) => {
  const { catalog, version, triage } = await lateRule(t);
  const walked = await steps(triage, version, ISSUE_PATIENT, ISSUE_ANSWERS);
  t.match(walked.at(-1), { status: 'complete', outcome: { disposition: 'CB-URGENT', within: 'PT1H', ruleId: 'fa-sepsis-moderate-risk' } });
  // After the temperature (and the heat question every adult fever walk now asks).
  const afterTemperature = walked.find((d) => d.answers.some((a) => a.questionId === 'heat'))!;
  t.match(afterTemperature, { status: 'needs_answer', question: { id: 'moderate_signs' } }, 'the 2-hour rule fires, but the 1-hour rule above it is unknown');
  t.match(afterTemperature.evaluation.next?.askedFor, { ruleId: 'fa-sepsis-moderate-risk', kind: 'callback', within: 'PT1H' });
  // What the first semantics did (and what its traces replay to): the 2-hour callback.
  t.match(await walk(triage, version, ISSUE_PATIENT, ISSUE_ANSWERS, 'first-fire-v1'), { outcome: { disposition: 'CB-SAME-DAY', ruleId: 'fa-older-high-temperature' } });
  // Lint now says what was wrong with the rule: its priority is not its outcome's urgency.
  t.match(
    lintCatalog(catalog).filter((f) => f.code === 'priority-band'),
    [{ message: /fa-older-high-temperature has priority 350, outside the 2 hours band/ }],
  );
});

t.test('issue 25: impact replays the old walk step by step and reports the questions never asked', async (t) => {
  const { catalog, version, triage } = await lateRule(t);
  // The assessment as it was decided before: every step a trace, made with first-fire-v1, in full
  // (as the trace repository hands stored traces to impact, compact ones expanded).
  const old = await steps(triage, version, ISSUE_PATIENT, ISSUE_ANSWERS, 'first-fire-v1');
  const traces = old.map((decision, step) => {
    const draft = draftTrace({ version, assessmentId: 'assessment-1', step, patient: ISSUE_PATIENT, answers: decision.answers, decision, startedAt: Date.now(), durationMs: 0, format: 'full' });
    return JSON.parse(sealTrace(draft, step + 1, GENESIS_HASH).text) as TraceBody;
  });
  async function* stored() {
    yield* traces;
  }
  const report = await impact(stored(), catalog, triage);
  t.match(report.moreQuestions, [
    {
      traceId: traces.at(-1)!.id,
      assessmentId: 'assessment-1',
      pathway: 'fever-adult',
      before: { kind: 'callback', disposition: 'CB-SAME-DAY', ruleId: 'fa-older-high-temperature' },
      // The first question the old walk skipped is now the heat question (for the heatstroke signs).
      askedFor: { ruleId: 'fa-heatstroke-signs', kind: 'escalate', within: 'PT0M' },
    },
  ]);
  t.ok(report.moreQuestions[0]!.wouldAsk.includes('moderate_signs'), 'the question the old walk never asked');
  t.match(report.pathways, [{ pathway: 'fever-adult', replayed: 1, counts: { asks_more: 1 }, moves: [{ movement: 'asks_more', before: { ruleId: 'fa-older-high-temperature' }, after: null, count: 1 }] }]);
  t.same(report.safetyFindings, []);
});

t.test('issue 25: the property finds the case under the first semantics, and holds under the current ones', async (t) => {
  const { version, triage } = await lateRule(t);
  const property = (semantics: DecisionSemantics) => fc.asyncProperty(completeAnswerSets(version), async ({ patient, given }) => (await walkAgrees(triage, version, patient, given, semantics)) === undefined);
  const before = await fc.check(property('first-fire-v1'), { numRuns: 1000 });
  t.ok(before.failed, `first-fire-v1: a counterexample in ${before.numRuns} runs`);
  t.notOk((await fc.check(property('settled-v2'), { numRuns: 1000 })).failed, 'settled-v2: none in 1000 runs');
});
