import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { impact } from '../../src/authoring/impact.js';
import { lintCatalog } from '../../src/authoring/lint.js';
import { GENESIS_HASH, draftTrace, sealTrace, type TraceBody } from '../../src/traces/trace.js';
import { loadRuleCatalog, type RuleCatalog } from '../../src/rulesets/loader.js';
import type { PathwayVersion } from '../../src/rulesets/version.js';
import type { Answer, Patient } from '../../src/triage/answers.js';
import type { DecisionSemantics } from '../../src/triage/settled.js';
import { Triage } from '../../src/triage/triage.js';
import { BUNDLED_RULES, offThread, REPO, tempDir, THOROUGH } from '../helpers.js';
import { steps, walk } from './semantics-runs.js';

/**
 * Question order can no longer change an outcome: walked one question at a time, as a patient
 * answers, every bundled pathway reaches the outcome its complete answer set gives at once, and
 * never a less urgent one.
 */
const catalog = await loadRuleCatalog(BUNDLED_RULES);
const MODULE_FILES = catalog.modules.map((m) => path.basename(m.source.file));
// Set to first-fire-v1 to see the property fail where file order decides (TEST_SEMANTICS).
const SEMANTICS = process.env.TEST_SEMANTICS as DecisionSemantics | undefined;
// Spread over the content (see differential.test.ts); TEST_THOROUGH=1 restores the full count.
const RUNS_PER_PATHWAY = THOROUGH ? 200 : Math.max(12, Math.ceil(1000 / catalog.versions.size));

// The properties run on a thread of their own (see offThread); each test below asserts on its pathway's.
const agreed = offThread<{ id: string; failure: string | null }[]>(new URL('./semantics-runs.js', import.meta.url), 'walksAgree', BUNDLED_RULES, RUNS_PER_PATHWAY, SEMANTICS);
for (const version of catalog.versions.values()) {
  t.test(`${version.id}: the walk reaches the outcome of the complete answer set`, async (t) => {
    const { failure } = (await agreed).find((r) => r.id === version.id)!;
    if (failure) throw new Error(failure);
    t.pass(`${RUNS_PER_PATHWAY} walks agree with their complete answer sets`);
  });
}

/** The bundled fever-adult pathway with the rule of issue 25 added (test/fixtures/late-rule), in a directory of its own. */
function lateRuleDir(t: Test): string {
  const dir = tempDir(t);
  // The catch-all is required in every rule set, and it includes shared modules.
  for (const name of ['red-flags.yaml', 'dispositions.yaml', 'something-else.yaml', 'fever-adult.yaml', ...MODULE_FILES]) cpSync(path.join(BUNDLED_RULES, name), path.join(dir, name));
  const file = path.join(dir, 'fever-adult.yaml');
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf('  - id: fa-fever-5-days');
  writeFileSync(file, text.slice(0, at) + readFileSync(path.join(REPO, 'test/fixtures/late-rule/fever-adult-rule.yaml'), 'utf8') + text.slice(at));
  return dir;
}

async function lateRule(t: Test): Promise<{ catalog: RuleCatalog; version: PathwayVersion; triage: Triage }> {
  const catalog = await loadRuleCatalog(lateRuleDir(t));
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
  const dir = lateRuleDir(t);
  const walks = (semantics: DecisionSemantics) => offThread<{ failed: boolean; numRuns: number }>(new URL('./semantics-runs.js', import.meta.url), 'walksDisagree', dir, 'fever-adult', semantics, 1000);
  const [before, after] = await Promise.all([walks('first-fire-v1'), walks('settled-v2')]);
  t.ok(before.failed, `first-fire-v1: a counterexample in ${before.numRuns} runs`);
  t.notOk(after.failed, 'settled-v2: none in 1000 runs');
});
