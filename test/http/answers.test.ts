import path from 'node:path';
import t from 'tap';
import { get, post, REPO, testApp } from '../helpers.js';

/**
 * Answers people can give honestly (issue 26), through the API: "not sure" where a question
 * offers it, and how long something has gone on. test/fixtures/module-rules: the ear topic.
 */
const app = await testApp(t, { rulesDir: path.join(REPO, 'test/fixtures/module-rules') });
const patient = { ageYears: 45, sex: 'female' };

async function start(): Promise<{ id: string; token: string; answer: (questionId: string, value: unknown) => ReturnType<typeof post> }> {
  const step = await post(app, '/v1/assessments', { pathwayId: 'ear', patient });
  const { id, token } = step.body;
  return { id, token, answer: (questionId, value) => post(app, `/v1/assessments/${id}/answers`, { questionId, value }) };
}

t.test('"not sure" is offered, counted as the file says, and kept as said', async (t) => {
  const a = await start();
  const pain = await a.answer('emergency', false);
  t.match(pain.body.question, { id: 'ear_pain', type: 'single_choice', unsure: { label: "I don't know" } });
  const floppy = await a.answer('ear_pain', 'unsure');
  t.match(floppy.body.question, { id: 'scr_floppy', unsure: { label: "I'm not sure" } }, 'the default label');
  const done = await a.answer('scr_floppy', false);
  t.match(done.body, { status: 'complete', outcome: { ruleId: 'ear-severe', kind: 'callback' } }, 'not sure how bad counts as severe');
  const stored = (await get(app, `/v1/assessments/${a.id}`, { 'x-assessment-token': a.token })).body;
  t.match(stored.answers, [{}, { questionId: 'ear_pain', value: 'unsure' }, {}]);
  t.match(await a.answer('emergency', 'unsure'), { status: 422, body: { detail: /expected true \(yes\) or false \(no\)$/ } }, 'not offered there');
});

t.test('durations: ISO 8601 in hours, days or weeks; the rules compare them', async (t) => {
  const a = await start();
  await a.answer('emergency', false);
  await a.answer('ear_pain', 'mild');
  const q = await a.answer('scr_floppy', false);
  t.match(q.body.question, { id: 'ear_how_long', type: 'duration', maxDuration: 'P26W' });
  for (const bad of ['3 days', 'PT30M', 'P27W', 3]) {
    t.match(await a.answer('ear_how_long', bad), { status: 422 }, `${JSON.stringify(bad)} is refused`);
  }
  t.match((await a.answer('ear_how_long', 'P2W')).body, { status: 'complete', outcome: { ruleId: 'ear-long' } });
  t.match((await a.answer('ear_how_long', 'PT12H')).body, { status: 'complete', outcome: { ruleId: 'ear-short', kind: 'self_care' } }, 'changed to 12 hours');
  t.match((await a.answer('ear_how_long', 'P3D')).body, { status: 'complete', outcome: { ruleId: 'ear-long' } }, '3 days is 3 days or more');
  const stateless = await post(app, '/v1/triage', { pathwayId: 'ear-adult', patient, answers: { emergency: false, ear_pain: 'unsure', scr_floppy: 'unsure', ear_how_long: 'P1D' } });
  t.match(stateless.body, { status: 'complete', outcome: { ruleId: 'scr-floppy', kind: 'escalate' } }, 'stateless: not sure if floppy counts as floppy');
});
