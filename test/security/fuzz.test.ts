import fc from 'fast-check';
import t from 'tap';
import { followVerification, get, post, STAFF, testApp } from '../helpers.js';

/**
 * Property-based fuzzing of every route: random and malformed bodies, query strings and headers
 * must only ever get a 2xx or a 4xx problem, never a 5xx, and the service keeps answering.
 */
const app = await testApp(t);
// Real ids and tokens, so some requests get past lookups into the deeper code.
const started = await post(app, '/v1/assessments', { pathwayId: 'chest-pain', patient: { ageYears: 40, sex: 'female' } });
const realIds = [started.body.id as string, 'chest-pain', '00000000-0000-4000-8000-000000000000'];
const routes = app
  .routeAccess()
  .filter((r) => r.url.startsWith('/v1/') || r.url.startsWith('/health/'))
  .filter((r) => !r.url.endsWith('/events')); // streams forever once authorised

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom(...realIds, '', '..', '%00', '../../etc/passwd', '{}', 'null'));
const json = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record({ pathwayId: text, patient: fc.record({ ageYears: fc.oneof(fc.integer(), fc.double(), text), sex: text }), answers: fc.dictionary(text, fc.jsonValue({ maxDepth: 2 })) }, { requiredKeys: [] }),
  fc.record({ questionId: text, value: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }),
  fc.record({ name: text, phone: text, consent: fc.jsonValue() }, { requiredKeys: [] }),
  fc.record({ outcome: text, notes: text, reason: text }, { requiredKeys: [] }),
);
const rawBody = fc.oneof(
  json.map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('{', '[[[', '{"a":', '\u0000', 'null'),
);
const query = fc.dictionary(fc.constantFrom('status', 'overdue', 'cursor', 'limit', 'from', 'to', 'pathwayId', 'outcomeKind', 'ruleId', 'x'), text, { maxKeys: 4 });
const headers = fc.record(
  {
    'content-type': fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8', ''),
    'x-api-key': fc.oneof(text, fc.constantFrom(STAFF.admin['x-api-key'], STAFF['call-handler']['x-api-key'])),
    'x-assessment-token': fc.oneof(text, fc.constant(started.body.token as string)),
    authorization: fc.oneof(text, fc.constant('Bearer e30.e30.sig')),
  },
  { requiredKeys: [] },
);

t.test('thousands of random requests: only 2xx and 4xx problems, never a 5xx', async (t) => {
  let sent = 0;
  const seen = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...routes), fc.constantFrom(...realIds), rawBody, query, headers, async (route, id, body, q, h) => {
      const url = route.url.replace(':id', encodeURIComponent(id)) + (Object.keys(q).length ? `?${new URLSearchParams(q)}` : '');
      const hdrs = Object.fromEntries(Object.entries(h).filter(([, v]) => v !== '')) as Record<string, string>;
      const res = await app.inject({ method: route.method as 'GET' | 'POST', url, headers: hdrs, ...(route.method === 'POST' ? { payload: body } : {}) });
      sent += 1;
      seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode >= 500) {
        throw new Error(`${route.method} ${url} -> ${res.statusCode}: ${res.body.slice(0, 300)}`);
      }
      if (res.statusCode >= 400 && !String(res.headers['content-type']).startsWith('application/problem+json')) {
        throw new Error(`${route.method} ${url} -> ${res.statusCode} is not a problem document`);
      }
    }),
    { numRuns: 3000 },
  );
  t.equal(
    sent,
    3000,
    `3000 requests; statuses: ${[...seen]
      .sort()
      .map(([s, n]) => `${s}x${n}`)
      .join(' ')}`,
  );
  t.ok(
    [...seen.keys()].some((s) => s < 300),
    'some requests got through to a 2xx',
  );
  t.equal((await get(app, '/health/ready')).status, 200, 'the service still answers');
  t.equal((await followVerification((url) => get(app, url, STAFF.auditor))).verdict.ok, true, 'and its trace chain is intact');
});
