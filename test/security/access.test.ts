// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { ApiKeys } from '../../src/security/credentials.js';
import { ACCESS, ROLES } from '../../src/security/roles.js';
import { callbackFor, get, handlerIdOf, HANDLER_KEYS, post, STAFF, testApp } from '../helpers.js';

/**
 * The access matrix, walked whole: every staff route refuses a request without credentials (401)
 * and every role it does not allow (403), and lets the roles it allows through.
 */
const app = await testApp(t);
const staffRoutes = app.routeAccess().filter((r) => r.access);
const ID = '00000000-0000-4000-8000-000000000000';
const BODIES: Record<string, unknown> = { complete: { outcome: 'advice_given' }, cancel: { reason: 'duplicate' } };

function call(method: string, url: string, headers: Record<string, string>) {
  const path = url.replace(':id', ID);
  // GET /metrics and the CSV exports answer in text: only the status and headers matter here.
  return method === 'GET' ? app.inject({ method, url: path, headers }).then((res) => ({ status: res.statusCode, headers: res.headers })) : post(app, path, BODIES[url.split('/').pop()!] ?? {}, headers);
}

t.test('staff routes are the trace, callback, release, report and metrics routes', async (t) => {
  t.same([...new Set(staffRoutes.map((r) => r.access))].sort(), ['callbacks', 'metrics', 'releaseActivation', 'releaseSignOff', 'releases', 'reports', 'traces']);
  t.ok(staffRoutes.length >= 16, `${staffRoutes.length} staff routes`);
  const publicRoutes = app
    .routeAccess()
    .filter((r) => !r.access && r.url.startsWith('/v1'))
    .map((r) => `${r.method} ${r.url}`);
  t.same(publicRoutes.sort(), [
    'GET /v1/assessments/:id',
    'GET /v1/pathways',
    'GET /v1/pathways/:id',
    'GET /v1/pathways/search',
    'POST /v1/assessments',
    'POST /v1/assessments/:id/answers',
    'POST /v1/assessments/:id/callback',
    'POST /v1/triage',
  ]);
});

t.test('the test helpers send a staff credential only when the test names it', async (t) => {
  t.equal((await get(app, '/v1/traces')).status, 401, 'a trace route');
  t.equal((await get(app, '/v1/callbacks')).status, 401, 'a callback route');
  t.equal((await get(app, '/v1/traces', STAFF.clinician)).status, 200);
});

for (const route of staffRoutes) {
  t.test(`${route.method} ${route.url} (${route.access})`, async (t) => {
    const none = await call(route.method, route.url, {});
    t.equal(none.status, 401, 'no credential: 401');
    t.match(String(none.headers['www-authenticate']), /ApiKey/);
    t.equal((await call(route.method, route.url, { 'x-api-key': 'not-a-real-key-0000000000' })).status, 401, 'unknown key: 401');
    const allowed: readonly string[] = ACCESS[route.access!];
    for (const role of ROLES) {
      if (route.url.endsWith('/events') && allowed.includes(role)) {
        continue; // an allowed events request streams forever; its 401/403 are checked above
      }
      const res = await call(route.method, route.url, STAFF[role]);
      if (allowed.includes(role)) {
        t.notOk([401, 403].includes(res.status), `${role}: allowed (${res.status})`);
      } else {
        t.equal(res.status, 403, `${role}: 403`);
      }
    }
  });
}

t.test('bearer JWTs from a JWKS: issuer, audience, expiry and roles are all checked', async (t) => {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'idp-1', alg: 'ES256' };
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as { port: number };
  const jwtApp = await testApp(t, {
    env: { AUTH_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`, AUTH_JWT_ISSUER: 'https://idp.example.nhs.uk', AUTH_JWT_AUDIENCE: 'triage-service' },
  });
  const token = (claims: Record<string, unknown>, { issuer = 'https://idp.example.nhs.uk', audience = 'triage-service', expires = '5m', subject = 'nurse.jones' } = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'idp-1' }).setSubject(subject).setIssuer(issuer).setAudience(audience).setIssuedAt().setExpirationTime(expires).sign(privateKey);
  const bearer = async (claims: Record<string, unknown>, options?: Parameters<typeof token>[1]) => ({ authorization: `Bearer ${await token(claims, options)}` });

  t.equal((await get(jwtApp, '/v1/traces', await bearer({ roles: ['auditor'] }))).status, 200, 'a valid token with an allowed role');
  t.equal((await get(jwtApp, '/v1/callbacks', await bearer({ roles: ['auditor'] }))).status, 403, 'a valid token with the wrong role');
  t.equal((await get(jwtApp, '/v1/traces', await bearer({ roles: ['auditor'] }, { expires: '-1m' }))).status, 401, 'expired');
  t.equal((await get(jwtApp, '/v1/traces', await bearer({ roles: ['auditor'] }, { audience: 'another-service' }))).status, 401, 'wrong audience');
  t.equal((await get(jwtApp, '/v1/traces', await bearer({ roles: ['auditor'] }, { issuer: 'https://evil.example' }))).status, 401, 'wrong issuer');
  t.equal((await get(jwtApp, '/v1/traces', { authorization: 'Bearer not.a.jwt' })).status, 401, 'garbage');
  const me = await get(jwtApp, '/v1/callbacks/me', await bearer({ roles: ['call-handler'] }));
  t.same(me.body, { id: 'jwt:https://idp.example.nhs.uk|nurse.jones', roles: ['call-handler'], name: null }, 'the handler id is the issuer and the token subject');
  const named = await get(jwtApp, '/v1/callbacks/me', await bearer({ roles: ['call-handler'], name: 'Nurse Jones' }));
  t.same(named.body, { id: 'jwt:https://idp.example.nhs.uk|nurse.jones', roles: ['call-handler'], name: 'Nurse Jones' }, "the display name is the token's name claim; the id is unchanged");
  t.equal((await get(jwtApp, '/v1/callbacks/me', STAFF['call-handler'])).body.name, null, 'an API key has no display name');
  t.equal((await get(jwtApp, '/v1/traces', STAFF.auditor)).status, 200, 'API keys still work beside JWTs');

  // Every handler sees a claim's holder as claimedBy: a token whose subject spells it is someone else.
  const { callbackId } = await callbackFor(jwtApp);
  const claim = await post(jwtApp, `/v1/callbacks/${callbackId}/claim`, {}, { 'x-api-key': HANDLER_KEYS[0]! });
  t.equal(claim.body.claimedBy, handlerIdOf(0), 'claimed with an API key');
  const impostor = await bearer({ roles: ['call-handler'] }, { subject: claim.body.claimedBy });
  t.same((await get(jwtApp, '/v1/callbacks/me', impostor)).body.id, `jwt:https://idp.example.nhs.uk|${claim.body.claimedBy}`);
  const taken = await post(jwtApp, `/v1/callbacks/${callbackId}/complete`, { outcome: 'advice_given' }, impostor);
  t.match(taken.body, { status: 409, title: 'Claimed by someone else' }, "the look-alike token cannot complete the key holder's claim");
  t.equal((await get(jwtApp, `/v1/callbacks/${callbackId}`, STAFF['call-handler'])).body.status, 'claimed');
  t.equal((await post(jwtApp, `/v1/callbacks/${callbackId}/complete`, { outcome: 'advice_given' }, { 'x-api-key': HANDLER_KEYS[0]! })).status, 200, 'the key holder can');
});

t.test('two API keys of one role whose hashes share the id prefix are refused at start-up', async (t) => {
  // About 2^16 random keys find two whose SHA-256 share their first 32 bits.
  const seen = new Map<string, string>();
  let pair: [string, string] | undefined;
  while (!pair) {
    const key = randomBytes(12).toString('hex');
    const prefix = createHash('sha256').update(key).digest('hex').slice(0, 8);
    const other = seen.get(prefix);
    if (other) pair = [other, key];
    seen.set(prefix, key);
  }
  t.throws(() => new ApiKeys(pair.map((key) => ({ role: 'call-handler' as const, key }))), { message: /two API keys would both be key:call-handler:[0-9a-f]{8}: replace one/ });
  t.doesNotThrow(
    () =>
      new ApiKeys([
        { role: 'call-handler', key: pair[0] },
        { role: 'clinician', key: pair[1] },
      ]),
    'different roles: different ids',
  );
  t.doesNotThrow(
    () =>
      new ApiKeys([
        { role: 'call-handler', key: pair[0] },
        { role: 'call-handler', key: pair[0] },
      ]),
    'the same key twice is one handler',
  );
});
