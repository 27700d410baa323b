// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import t, { type Test } from 'tap';
import { BASIC_RULES, get, post, testApp, type Reply } from '../helpers.js';

const app = await testApp(t, { rulesDir: BASIC_RULES });
const reply = (res: { statusCode: number; json: () => any; headers: Reply['headers'] }): Reply => ({ status: res.statusCode, body: res.json(), headers: res.headers });
const adult = { ageYears: 30, sex: 'female' };

async function start() {
  const res = await post(app, '/v1/assessments', { pathwayId: 'sample', patient: adult });
  return res.body.id as string;
}

function isProblem(t: Test, res: Reply, status: number, detail: RegExp) {
  t.equal(res.status, status);
  t.match(String(res.headers['content-type']), /^application\/problem\+json/);
  t.match(res.body, { type: String, title: String, status, detail });
}

t.test('unknown pathway, assessment and route are 404 problems', async (t) => {
  isProblem(t, await post(app, '/v1/assessments', { pathwayId: 'nope', patient: adult }), 404, /pathway nope does not exist/);
  const token = { 'x-assessment-token': 'a-token-for-some-other-assessment' };
  isProblem(t, await get(app, '/v1/assessments/00000000-0000-4000-8000-000000000000', token), 404, /assessment .* does not exist/);
  isProblem(t, await post(app, '/v1/assessments/nope/answers', { questionId: 'emergency', value: false }, token), 404, /assessment nope does not exist/);
  isProblem(t, await get(app, '/v1/nowhere'), 404, /no route GET \/v1\/nowhere/);
  isProblem(t, await post(app, '/v1/triage', { pathwayId: 'nope', patient: adult }), 404, /pathway nope/);
});

t.test('malformed JSON, wrong types, extra fields, oversize bodies and wrong media types are 4xx', async (t) => {
  const malformed = await app.inject({ method: 'POST', url: '/v1/assessments', headers: { 'content-type': 'application/json' }, payload: '{"pathwayId":' });
  isProblem(t, reply(malformed), 400, /not valid JSON/);

  const wrongType = await post(app, '/v1/assessments', { pathwayId: 'sample', patient: { ageYears: 'thirty', sex: 'female' } });
  isProblem(t, wrongType, 400, /body\.patient\.ageYears/);
  t.match(wrongType.body.errors, [{ path: ['body', 'patient', 'ageYears'] }], 'the error says where');

  isProblem(t, await post(app, '/v1/assessments', { pathwayId: 'sample', patient: { ageYears: 30, sex: 'other' } }), 400, /patient\.sex/);
  isProblem(t, await post(app, '/v1/assessments', { pathwayId: 'sample', patient: adult, extra: 1 }), 400, /extra/);
  isProblem(t, await post(app, '/v1/assessments', {}), 400, /pathwayId/);

  const big = await app.inject({ method: 'POST', url: '/v1/triage', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ pad: 'x'.repeat(100_000) }) });
  isProblem(t, reply(big), 413, /.+/);

  const text = await app.inject({ method: 'POST', url: '/v1/assessments', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
  isProblem(t, reply(text), 415, /.+/);
});

t.test('the catch-all serves every age band', async (t) => {
  for (const ageYears of [0, 4, 5, 15, 16, 120]) {
    t.equal((await post(app, '/v1/assessments', { pathwayId: 'sample', patient: { ageYears, sex: 'male' } })).status, 201, `aged ${ageYears}`);
  }
});

t.test('answering a question not asked, or with a bad value, says which', async (t) => {
  const id = await start();
  isProblem(t, await post(app, `/v1/assessments/${id}/answers`, { questionId: 'days', value: 3 }), 409, /question days has not been asked; the current question is emergency/);
  isProblem(t, await post(app, `/v1/assessments/${id}/answers`, { questionId: 'emergency', value: 'yes' }), 422, /expected true \(yes\) or false \(no\)/);
  isProblem(t, await post(app, `/v1/assessments/${id}/answers`, { questionId: 'ghost', value: true }), 422, /question ghost is not part of pathway sample/);
  isProblem(t, await post(app, `/v1/assessments/${id}/answers`, { questionId: 'emergency', value: { nested: true } }), 400, /body\.value/);
  const after = (await get(app, `/v1/assessments/${id}`)).body;
  t.same(after.answers, [], 'nothing was stored by the refused answers');
  t.equal(after.question.id, 'emergency');
});

t.test('stateless triage refuses answers to unknown questions and bad values, naming each', async (t) => {
  const res = await post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: { emergency: false, days: -1, ghost: 1 } });
  isProblem(t, res, 422, /days: expected a number from 0 to 365/);
  t.match(res.body.errors, [{ path: ['body', 'answers', 'days'] }, { path: ['body', 'answers', 'ghost'] }]);
});

t.test('Back through the API: an earlier answer can be changed, and an answer after completion too', async (t) => {
  const id = await start();
  await post(app, `/v1/assessments/${id}/answers`, { questionId: 'emergency', value: false });
  await post(app, `/v1/assessments/${id}/answers`, { questionId: 'severe', value: false });
  await post(app, `/v1/assessments/${id}/answers`, { questionId: 'kind', value: 'sharp' });
  let step = await post(app, `/v1/assessments/${id}/answers`, { questionId: 'sharp_where', value: 'left' });
  t.match(step.body, { status: 'complete', outcome: { ruleId: 's-left' } });
  step = await post(app, `/v1/assessments/${id}/answers`, { questionId: 'kind', value: 'dull' });
  t.match(step.body, { status: 'in_progress', question: { id: 'days' } }, 'back to kind=dull: the sharp_where answer no longer applies');
  const state = (await get(app, `/v1/assessments/${id}`)).body;
  t.same(
    state.answers.map((a: { questionId: string }) => a.questionId),
    ['emergency', 'severe', 'kind'],
  );
  step = await post(app, `/v1/assessments/${id}/answers`, { questionId: 'days', value: 1 });
  t.match(step.body, { status: 'complete', outcome: { kind: 'self_care', ruleId: 's-short-dull' } });
});

t.test('an assessment opens only with its token: 401 without one, 404 with a wrong one', async (t) => {
  const created = await post(app, '/v1/assessments', { pathwayId: 'sample', patient: adult });
  t.match(created.body.token, /^[A-Za-z0-9_-]{43}$/, '256 random bits');
  const id = created.body.id as string;
  for (const [method, url, body] of [
    ['GET', `/v1/assessments/${id}`, undefined],
    ['POST', `/v1/assessments/${id}/answers`, { questionId: 'emergency', value: false }],
    ['POST', `/v1/assessments/${id}/callback`, { name: 'A', phone: '07700 900123', consent: true }],
  ] as const) {
    const call = (headers: Record<string, string>) => (method === 'GET' ? get(app, url, headers) : post(app, url, body, headers));
    isProblem(t, await call({}), 401, /x-assessment-token/);
    isProblem(t, await call({ 'x-assessment-token': created.body.token.replace(/.$/, (c: string) => (c === 'A' ? 'B' : 'A')) }), 404, /does not exist/);
  }
  t.same((await get(app, `/v1/assessments/${id}`)).body.answers, [], 'nothing was answered without the token');
});

t.test('health: live and ready', async (t) => {
  t.same((await app.inject('/health/live')).json(), { status: 'ok' });
  const ready = (await app.inject('/health/ready')).json();
  t.equal(ready.status, 'ready');
  t.match(ready.pathways, [{ id: 'sample', hash: /^[0-9a-f]{64}$/ }]);
});

t.test('API docs are served at /docs', async (t) => {
  const ui = await app.inject('/docs/');
  t.equal(ui.statusCode, 200);
  const doc = (await app.inject('/docs/json')).json();
  t.ok(doc.paths['/v1/assessments/{id}/answers'], 'the OpenAPI document lists the routes');
});
