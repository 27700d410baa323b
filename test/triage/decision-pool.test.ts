import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import { DecisionPool } from '../../src/triage/decision-pool.js';
import { localDecider, type DecidedStep, type StepInput } from '../../src/triage/step.js';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { loadScenarioFiles, scenarioAnswers } from '../../src/rulesets/scenarios.js';
import type { PathwayVersion } from '../../src/rulesets/version.js';
import type { Answer } from '../../src/triage/answers.js';
import { GENESIS_HASH, sealTrace } from '../../src/traces/trace.js';
import { Triage } from '../../src/triage/triage.js';
import { BUNDLED_RULES, sampledScenarios } from '../helpers.js';

const catalog = await loadRuleCatalog(BUNDLED_RULES);
const versions = [...catalog.versions.values()];
const settings = { timeoutMs: 10_000, ruleEvaluation: 'needed' } as const;
const local = localDecider(new Triage(versions, settings));

/** A trace's content, less what differs by when and how fast it was made. */
function content(step: DecidedStep): unknown {
  const { id: _id, at: _at, durationMs: _durationMs, ...rest } = JSON.parse(sealTrace(step.draft, 1, GENESIS_HASH).text) as Record<string, unknown>;
  return rest;
}

const steps: { version: PathwayVersion; input: StepInput; name: string }[] = [];
for (const file of sampledScenarios(await loadScenarioFiles(BUNDLED_RULES))) {
  const version = catalog.versions.get(file.pathway)!;
  for (const scenario of file.scenarios) {
    const answers = scenarioAnswers(scenario) as Answer[];
    for (let n = 0; n <= answers.length; n++) {
      steps.push({ version, name: `${file.pathway}: ${scenario.name} after ${n} answers`, input: { patient: scenario.patient, answers: answers.slice(0, n), assessmentId: null, step: n } });
    }
  }
}

t.test('every scenario step decided in the workers is the step decided on the event loop, trace and all', async (t) => {
  const failSafes: string[] = [];
  const pool = new DecisionPool({ ...settings, threads: 2, onFailSafe: (cause) => failSafes.push(cause) });
  t.teardown(() => pool.close());
  // All at once, as concurrent requests would: batches, both workers, versions sent on demand.
  const pooled = await Promise.all(steps.map(({ version, input }) => pool.step(version, input)));
  const differing: string[] = [];
  for (const [i, { version, input, name }] of steps.entries()) {
    const expected = await local.step(version, input);
    const got = pooled[i]!;
    if (!isDeepStrictEqual(got.decision, expected.decision) || !isDeepStrictEqual(content(got), content(expected))) differing.push(name);
  }
  t.same(differing, [], `${steps.length} steps, none differ`);
  t.ok(steps.length > 1000, 'every step of sampled scenarios of every bundled pathway');
  t.same(failSafes, [], 'no fail-safe on the way');
});

t.test('a worker that fails gives the conservative fallback, traced with its cause, and the pool carries on', async (t) => {
  const failSafes: string[] = [];
  const pool = new DecisionPool({ ...settings, threads: 1, onFailSafe: (cause, detail) => failSafes.push(`${cause}: ${detail}`) });
  t.teardown(() => pool.close());
  const chest = catalog.versions.get('chest-pain')!;
  // A version whose content does not hash to its name: the worker refuses it.
  const forged: PathwayVersion = { ...chest, hash: 'f'.repeat(64) };
  const input: StepInput = { patient: { ageYears: 50, sex: 'male' }, answers: [], assessmentId: null, step: null };
  // In the same batch as a step on a sound version, which is decided as usual.
  const [step, sound] = await Promise.all([pool.step(forged, input), pool.step(chest, input)]);
  t.match(sound, { decision: { status: 'needs_answer' } }, 'the sound step in the same batch is decided as usual');
  t.equal(sound.failSafe, undefined);
  t.match(step.decision, { status: 'complete', outcome: { kind: chest.fallback.outcome.kind, disposition: chest.fallback.outcome.disposition, ruleId: null } });
  t.not(step.decision.status === 'complete' && step.decision.outcome.kind, 'self_care', 'never self-care');
  const trace = JSON.parse(sealTrace(step.draft, 1, GENESIS_HASH).text) as { evaluation: { decidedBy: unknown; engineRuns: number } };
  t.match(trace.evaluation, { decidedBy: { fallback: 'engine_error', detail: /does not match its content hash/ }, engineRuns: 0 });
  t.equal(step.draft.packed, undefined, 'traced as text: a forged version gives no dictionary to pack against');
  t.match(failSafes, [/^engine_error: the decision worker failed: .*does not match its content hash/]);

  const next = await pool.step(chest, input);
  t.equal(next.decision.status, 'needs_answer', 'the next step is decided as usual');
  t.equal(next.failSafe, undefined);
});

t.test('a batch that does not come back in time gets the fallback, traced as a timeout', async (t) => {
  const failSafes: string[] = [];
  // 1 ms is less than any first decision takes: the worker has the version to build first.
  const pool = new DecisionPool({ ...settings, threads: 1, stuckAfterMs: 1, onFailSafe: (cause) => failSafes.push(cause) });
  t.teardown(() => pool.close());
  const chest = catalog.versions.get('chest-pain')!;
  const input: StepInput = { patient: { ageYears: 50, sex: 'male' }, answers: [], assessmentId: null, step: null };
  const step = await pool.step(chest, input);
  t.match(step, { decision: { status: 'complete', outcome: { ruleId: null, disposition: chest.fallback.outcome.disposition } }, failSafe: { cause: 'timeout' } });
  t.same(failSafes, ['timeout']);
});

t.test('a pool closed as soon as it is made waits for its threads to load, then closes', async (t) => {
  // Ending a thread still loading its module crashed Node 20 once; this process would die here.
  for (let i = 0; i < 5; i++) {
    const pool = new DecisionPool({ ...settings, threads: 2 });
    await pool.close();
  }
  const pool = new DecisionPool({ ...settings, threads: 2 });
  const [version] = versions;
  const step = pool.step(version!, { patient: { ageYears: 40, sex: 'female' }, answers: [], assessmentId: null, step: 0 });
  await pool.close();
  t.equal((await step).failSafe, undefined, 'a step handed in before close is still decided');
});
