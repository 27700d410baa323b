import t from 'tap';
import { contractViolations, DOCUMENT } from '../contract.js';
import { post, testApp } from '../helpers.js';

// Every suite's test apps check each response against openapi/openapi.json (test/contract.ts);
// here, that the check catches what it must.

const json = { 'content-type': 'application/json; charset=utf-8' };
const problemJson = { 'content-type': 'application/problem+json; charset=utf-8' };

t.test('a real response passes, and the same response altered does not', async (t) => {
  const app = await testApp(t);
  const started = await app.inject({ method: 'POST', url: '/v1/assessments', payload: { pathwayId: 'chest-pain', patient: { ageYears: 58, sex: 'male' } } });
  t.equal(started.statusCode, 201);
  const real = { method: 'POST', route: '/v1/assessments', status: 201, headers: started.headers, body: started.body };
  t.same(contractViolations(real), [], 'the 201 satisfies its schema (once an allOf nothing could satisfy)');

  const { token: _token, ...withoutToken } = started.json();
  t.match(contractViolations({ ...real, body: JSON.stringify(withoutToken) }), [/body must have required property 'token'/]);
  t.match(contractViolations({ ...real, body: JSON.stringify({ ...started.json(), status: 'needs_answer' }) }), [/body\/status/], 'the assessment routes say in_progress');
  t.match(contractViolations({ ...real, body: JSON.stringify({ ...started.json(), traceId: 'not-a-uuid' }) }), [/traceId must match format "uuid"/]);
  t.match(contractViolations({ ...real, status: 418 }), [/status not declared/]);
  t.match(contractViolations({ ...real, headers: { 'content-type': 'text/html' } }), [/content-type text\/html not declared/]);
});

t.test('problems: problem+json with Retry-After where declared', async (t) => {
  const problem = JSON.stringify({ type: 'https://triage.example/problems/too-many-requests', title: 'Too many requests', status: 429, detail: 'slow down' });
  const limited = { method: 'POST', route: '/v1/triage', status: 429, body: problem };
  t.same(contractViolations({ ...limited, headers: { ...problemJson, 'retry-after': '60' } }), []);
  t.match(contractViolations({ ...limited, headers: problemJson }), [/header Retry-After declared but not sent/]);
  t.match(contractViolations({ ...limited, headers: { ...json, 'retry-after': '60' } }), [/content-type application\/json not declared/]);
  t.match(contractViolations({ method: 'GET', route: undefined, status: 404, headers: json, body: problem }), [/must be application\/problem\+json/], 'even with no operation');
  t.match(contractViolations({ method: 'GET', route: undefined, status: 404, headers: problemJson, body: '{"oops":true}' }), [/required property 'type'/]);
});

t.test('a mismatch fails the test that made the request', async (t) => {
  // A subtest whose app answers outside the contract: its failure is what this test expects.
  const failures: string[] = [];
  await t.test('an app with a route the document does not know', async (inner) => {
    inner.fail = ((message: string) => {
      failures.push(message);
      return true;
    }) as typeof inner.fail;
    const app = await testApp(inner);
    // A status POST /v1/triage never declares: the hook must object.
    app.addHook('onSend', async (request, reply, payload) => {
      if (request.url === '/v1/triage') reply.code(418);
      return payload;
    });
    await post(app, '/v1/triage', { pathwayId: 'chest-pain', patient: { ageYears: 40, sex: 'female' }, answers: {} });
    await app.close();
  });
  t.match(failures, [/contract \(openapi\/openapi\.json\): POST \/v1\/triage 418: status not declared/]);
});

t.test('the document declares what clients need', async (t) => {
  const operations = Object.values(DOCUMENT.paths).flatMap((p) => Object.values(p) as unknown as Record<string, unknown>[]);
  t.ok(operations.length >= 30);
  for (const op of operations) {
    t.match(op, { operationId: /^[a-z][A-Za-z]+$/, summary: String, description: String, security: Array }, String(op.operationId));
  }
  const doc = DOCUMENT as unknown as { components: { securitySchemes: Record<string, unknown> }; servers: unknown[] };
  t.same(Object.keys(doc.components.securitySchemes).sort(), ['apiKey', 'assessmentToken', 'bearer']);
  t.ok(doc.servers.length);
  const answer = DOCUMENT.paths['/v1/assessments/{id}/answers']!.post as unknown as { security: unknown };
  t.same(answer.security, [{ assessmentToken: [] }], 'the assessment token is required where the server requires it');
});
