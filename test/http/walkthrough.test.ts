// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import t from 'tap';
import { loadScenarioFiles, scenarioAnswers } from '../../src/rulesets/scenarios.js';
import { BUNDLED_RULES, get, logCapture, post, sampledScenarios, testApp } from '../helpers.js';

/**
 * Scenarios of every bundled pathway, walked through the HTTP API one answer at a time, as a
 * frontend would: each answer must be for the question the API just asked. `triage-rules test`
 * (in npm test) walks every scenario the same way through the decision code the API calls; here,
 * for the HTTP layer and the store, each pathway's first scenario of each kind of outcome it
 * expects (TEST_THOROUGH=1: every scenario).
 */
const files = sampledScenarios(await loadScenarioFiles(BUNDLED_RULES));
const log = logCapture();
const app = await testApp(t, { rulesDir: BUNDLED_RULES, logStream: log.stream, env: { TRIAGE_WORKERS: '2' } });

t.test('every bundled pathway has scenarios', async (t) => {
  const pathways = (await app.inject('/v1/pathways')).json() as { pathways: { id: string }[] };
  const covered = new Set(files.map((f) => f.pathway));
  for (const p of pathways.pathways) {
    t.ok(covered.has(p.id), `${p.id} has a scenarios file`);
  }
});

const outcomesReached = new Map<string, Set<string>>();

for (const file of files) {
  t.test(`${file.file}: ${file.pathway} through the API`, async (t) => {
    const reached = outcomesReached.get(file.pathway) ?? new Set<string>();
    outcomesReached.set(file.pathway, reached);
    for (const scenario of file.scenarios) {
      await t.test(scenario.name, async (t) => {
        let step = await post(app, '/v1/assessments', { pathwayId: file.pathway, patient: scenario.patient });
        t.equal(step.status, 201);
        const id = step.body.id as string;
        t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a random (v4, 122-bit) id');
        for (const { questionId, value } of scenarioAnswers(scenario)) {
          t.equal(step.body.status, 'in_progress', `still asking before ${questionId}`);
          t.equal(step.body.question?.id, questionId, `the API asks ${questionId}`);
          step = await post(app, `/v1/assessments/${id}/answers`, { questionId, value });
          t.equal(step.status, 200);
          t.type(step.body.traceId, 'string');
        }
        t.equal(step.body.status, 'complete');
        t.match(step.body.outcome, scenario.expect, 'the expected outcome');
        reached.add(step.body.outcome.kind);

        const stored = (await get(app, `/v1/assessments/${id}`)).body;
        t.equal(stored.status, 'complete');
        t.same(stored.outcome, step.body.outcome, 'GET returns the same outcome');
        t.equal(stored.answers.length, scenario.answers.length);

        const stateless = await post(app, '/v1/triage', {
          pathwayId: file.pathway,
          patient: scenario.patient,
          answers: Object.fromEntries(scenarioAnswers(scenario).map((a) => [a.questionId, a.value])),
        });
        t.equal(stateless.status, 200);
        t.match(stateless.body, { status: 'complete', outcome: scenario.expect }, 'stateless triage agrees');
      });
    }
  });
}

t.test('every pathway reaches each kind of outcome its scenarios expect through the API', async (t) => {
  // Walked at all: an empty map would otherwise pass without checking anything.
  t.same([...outcomesReached.keys()].sort(), [...new Set(files.map((f) => f.pathway))].sort(), 'every pathway was walked');
  // Some topics have no safe self-care (a baby moving less, testicle pain): each pathway must
  // escalate somewhere, and the set as a whole reaches all three kinds.
  for (const [pathway, kinds] of outcomesReached) {
    const expected = new Set(files.filter((f) => f.pathway === pathway).flatMap((f) => f.scenarios.map((s) => s.expect.kind)));
    t.same([...kinds].sort(), [...expected].sort(), pathway);
    t.ok(kinds.has('escalate'), `${pathway} escalates`);
  }
  t.same([...new Set([...outcomesReached.values()].flatMap((k) => [...k]))].sort(), ['callback', 'escalate', 'self_care'], 'all three kinds');
});

t.test('logs carry request ids and no answers or patient details', async (t) => {
  const text = log.text();
  t.match(text, /"reqId":"[0-9a-f-]{36}"/);
  for (const file of files) {
    for (const scenario of file.scenarios) {
      for (const { value } of scenarioAnswers(scenario)) {
        for (const v of [value].flat()) {
          if (typeof v === 'string' && v.length > 4) {
            t.notOk(text.includes(`"${v}"`), `answer value ${v} is not logged`);
          }
        }
      }
    }
  }
  t.notOk(text.includes('ageYears'), 'no patient age in logs');
});
