import t from 'tap';
import { callbackFor, get, logCapture, post, STAFF, testApp } from '../helpers.js';

// HTTP conventions a client and any cache between may rely on (docs/api.md, "HTTP conventions").

t.test('a wrong method on a known path is a 405 naming the methods it takes, not a 404', async (t) => {
  const app = await testApp(t);
  const wrong = await app.inject({ method: 'DELETE', url: '/v1/pathways/chest-pain' });
  t.equal(wrong.statusCode, 405);
  t.equal(wrong.headers.allow, 'GET, HEAD');
  t.match(wrong.headers['content-type'], /^application\/problem\+json/);
  t.match(wrong.json(), { status: 405, title: 'Method not allowed' });
  const get = await app.inject({ method: 'GET', url: '/v1/assessments' });
  t.equal(get.statusCode, 405, 'GET on a POST-only path');
  t.equal(get.headers.allow, 'POST');
  t.equal((await app.inject({ method: 'POST', url: '/v1/no-such-thing' })).statusCode, 404, 'an unknown path is still a 404');
});

t.test('each request is one log line when answered: its method, path, status and time, under its id', async (t) => {
  const log = logCapture();
  const app = await testApp(t, { logStream: log.stream });
  await get(app, '/v1/pathways/chest-pain');
  await post(app, '/v1/triage', { pathwayId: 'chest-pain' });
  const lines = log
    .text()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string; reqId?: string; req?: unknown; res?: unknown; responseTime?: unknown });
  const requests = lines.filter((l) => l.reqId !== undefined);
  t.same(
    requests.map((l) => l.msg),
    ['request completed', 'request completed'],
    'no "incoming request" line before each',
  );
  t.match(requests, [
    { req: { method: 'GET', url: '/v1/pathways/chest-pain' }, res: { statusCode: 200 }, responseTime: Number },
    { req: { method: 'POST', url: '/v1/triage' }, res: { statusCode: 400 }, responseTime: Number },
  ]);
});

t.test('pathway reads carry an ETag from the version and answer 304 while it holds', async (t) => {
  const app = await testApp(t);
  const first = await get(app, '/v1/pathways/chest-pain');
  t.equal(first.status, 200);
  t.match(String(first.headers.etag), new RegExp(`^"${first.body.versionHash}\\.`), 'the ETag starts with the version hash');
  t.equal(first.headers['cache-control'], 'public, no-cache');
  const again = await app.inject({ method: 'GET', url: '/v1/pathways/chest-pain', headers: { 'if-none-match': String(first.headers.etag) } });
  t.equal(again.statusCode, 304);
  t.equal(again.body, '', 'no body on a 304');
  t.equal(again.headers.etag, first.headers.etag);
  const other = await app.inject({ method: 'GET', url: '/v1/pathways/chest-pain', headers: { 'if-none-match': '"something-else"' } });
  t.equal(other.statusCode, 200, 'another version is sent in full');

  const list = await get(app, '/v1/pathways');
  t.ok(list.headers.etag, 'the list has an ETag too');
  t.not(list.headers.etag, first.headers.etag);
  const listAgain = await app.inject({ method: 'GET', url: '/v1/pathways', headers: { 'if-none-match': `W/${String(list.headers.etag)}, "x"` } });
  t.equal(listAgain.statusCode, 304, 'weak comparison, in a list');
});

t.test('responses with personal data are never stored by a cache', async (t) => {
  const app = await testApp(t);
  const { assessmentId, callbackId } = await callbackFor(app);
  const responses = [
    await get(app, `/v1/assessments/${assessmentId}`),
    await post(app, `/v1/assessments/${assessmentId}/callback`, { name: 'Test Patient', phone: '07700 900123', consent: true }),
    await post(app, '/v1/triage', { pathwayId: 'chest-pain', patient: { ageYears: 40, sex: 'female' }, answers: {} }),
    await get(app, `/v1/callbacks/${callbackId}`, STAFF['call-handler']),
    await get(app, '/v1/callbacks', STAFF['call-handler']),
    await get(app, `/v1/assessments/${assessmentId}/traces`, STAFF.auditor),
    await get(app, '/v1/pathways/search?q=tummy', {}),
    await get(app, `/v1/assessments/${assessmentId}`, { 'x-assessment-token': 'wrong' }),
  ];
  for (const r of responses) t.equal(r.headers['cache-control'], 'no-store', `${r.status}: no-store`);
});

t.test('CORS: preflights are cached for 10 minutes and scripts may read ETag, Location and Retry-After', async (t) => {
  const app = await testApp(t, { env: { CORS_ORIGINS: 'https://frontend.example' } });
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/v1/assessments',
    headers: { origin: 'https://frontend.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-assessment-token' },
  });
  t.equal(preflight.statusCode, 204);
  t.equal(preflight.headers['access-control-max-age'], '600');
  const actual = await app.inject({ method: 'GET', url: '/v1/pathways/chest-pain', headers: { origin: 'https://frontend.example' } });
  t.equal(actual.headers['access-control-allow-origin'], 'https://frontend.example');
  t.same(String(actual.headers['access-control-expose-headers']).split(/,\s*/).sort(), ['ETag', 'Location', 'Retry-After']);
  const stranger = await app.inject({ method: 'GET', url: '/v1/pathways/chest-pain', headers: { origin: 'https://elsewhere.example' } });
  t.notOk(stranger.headers['access-control-allow-origin'], 'other origins are not allowed');
});

t.test('the CSP upgrades insecure requests only when the service says it is behind TLS', async (t) => {
  const plain = await testApp(t);
  const csp = String((await plain.inject({ method: 'GET', url: '/' })).headers['content-security-policy']);
  t.match(csp, /default-src 'self'/);
  t.notMatch(csp, /upgrade-insecure-requests/, 'over plain HTTP the pages would fetch their CSS and scripts over HTTPS, and fail');
  t.notMatch(String((await plain.inject({ method: 'GET', url: '/docs/' })).headers['content-security-policy']), /upgrade-insecure-requests/, 'nor on /docs, with its own CSP');
  const tls = await testApp(t, { env: { BEHIND_TLS: 'true' } });
  t.match(String((await tls.inject({ method: 'GET', url: '/' })).headers['content-security-policy']), /upgrade-insecure-requests/);
  t.match(String((await tls.inject({ method: 'GET', url: '/docs/' })).headers['content-security-policy']), /upgrade-insecure-requests/);
});
