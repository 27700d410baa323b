import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.js';
import { BASIC_RULES, callbackFor, ENCRYPTION_KEY, get, logCapture, post, REPO, SECURITY_ENV, STAFF, tempDir, testApp } from '../helpers.js';

const patient = { ageYears: 52, sex: 'male' };
const contact = { name: 'Zebedee Quartermaine', phone: '07700 900123', consent: true };

t.test('public routes are rate limited per client with a 429 problem and Retry-After', async (t) => {
  const app = await testApp(t, { env: { RATE_LIMIT_PER_MINUTE: '5' } });
  const statuses = [];
  for (let i = 0; i < 7; i++) statuses.push((await get(app, '/v1/pathways')).status);
  t.same(statuses, [200, 200, 200, 200, 200, 429, 429]);
  const limited = await get(app, '/v1/pathways');
  t.match(limited.body, { status: 429, title: 'Too many requests', detail: /more than 5 requests a minute/ });
  t.match(String(limited.headers['content-type']), /application\/problem\+json/);
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After says when');
  t.equal((await get(app, '/v1/traces', STAFF.auditor)).status, 200, 'staff routes are not limited by the patient limit');
});

t.test('contact details are encrypted at rest; the database file alone does not reveal them', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'triage.db');
  const app = await testApp(t, { env: { DATABASE_URL: db } });
  const { callbackId } = await callbackFor(app, contact);
  await post(app, `/v1/callbacks/${callbackId}/claim`, {}, STAFF['call-handler']);
  await post(app, `/v1/callbacks/${callbackId}/complete`, { outcome: 'advice_given', notes: 'Zebedee feels better' }, STAFF['call-handler']);
  t.match(
    (await get(app, `/v1/callbacks/${callbackId}`, STAFF['call-handler'])).body,
    { name: contact.name, phone: '+447700900123', completion: { notes: 'Zebedee feels better' } },
    'staff read them decrypted',
  );
  await app.close();
  const bytes = Buffer.concat(
    [db, `${db}-wal`].flatMap((f) => {
      try {
        return [readFileSync(f)];
      } catch {
        return [];
      }
    }),
  );
  for (const secret of ['Zebedee', 'Quartermaine', '7700900123', '7700 900123']) {
    t.equal(bytes.indexOf(secret), -1, `"${secret}" is nowhere in the database files`);
  }
  const raw = new SQLite(db, { readonly: true });
  const row = raw.prepare('select name, phone from callback_requests').get() as { name: string; phone: string };
  raw.close();
  t.match(row, { name: /^v1:k1:/, phone: /^v1:k1:/ }, 'stored sealed, with the key id');
});

t.test('keys rotate: the first key seals, older keys still open', async (t) => {
  const db = path.join(tempDir(t), 'triage.db');
  const first = await testApp(t, { env: { DATABASE_URL: db } });
  const old = await callbackFor(first, contact);
  await first.close();
  const newKey = Buffer.alloc(32, 9).toString('base64');
  const second = await testApp(t, { env: { DATABASE_URL: db, CONTACT_ENCRYPTION_KEYS: `k2:${newKey},k1:${ENCRYPTION_KEY}` } });
  t.equal((await get(second, `/v1/callbacks/${old.callbackId}`, STAFF['call-handler'])).body.name, contact.name, 'a request sealed with k1 opens after rotation');
  const fresh = await callbackFor(second, contact);
  await second.close();
  const raw = new SQLite(db, { readonly: true });
  t.match(raw.prepare('select name from callback_requests where id = ?').get(fresh.callbackId), { name: /^v1:k2:/ }, 'new requests are sealed with k2');
  raw.close();
  const withoutOld = await testApp(t, { env: { DATABASE_URL: db, CONTACT_ENCRYPTION_KEYS: `k2:${newKey}` } });
  t.equal((await get(withoutOld, `/v1/callbacks/${old.callbackId}`, STAFF['call-handler'])).status, 500, 'a retired key cannot open old details (an operator error, logged)');
});

t.test('security headers, a CSP the pages satisfy, and a CORS allow-list', async (t) => {
  const app = await testApp(t, { env: { CORS_ORIGINS: 'https://111.example.nhs.uk' } });
  const page = await app.inject('/');
  t.match(page.headers['content-security-policy'], /default-src 'self'.*script-src 'self'/);
  t.equal(page.headers['x-content-type-options'], 'nosniff');
  t.match(page.headers['strict-transport-security'], /max-age=/);
  // The same headers on every response: API answers and errors alike.
  for (const url of ['/v1/pathways', '/no-such-route']) {
    const res = await app.inject(url);
    t.equal(res.headers['content-security-policy'], page.headers['content-security-policy'], `${url} carries the CSP`);
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN', `${url} cannot be framed`);
  }
  // Swagger UI sets its own CSP on its own pages.
  const docs = await app.inject('/docs');
  t.equal(docs.statusCode, 200);
  t.match(docs.headers['content-security-policy'], /img-src 'self' data: validator\.swagger\.io/, 'the API docs keep their own CSP');
  const allowed = await app.inject({ method: 'GET', url: '/v1/pathways', headers: { origin: 'https://111.example.nhs.uk' } });
  t.equal(allowed.headers['access-control-allow-origin'], 'https://111.example.nhs.uk');
  const other = await app.inject({ method: 'GET', url: '/v1/pathways', headers: { origin: 'https://evil.example' } });
  t.notOk(other.headers['access-control-allow-origin'], 'an origin not on the list gets no CORS grant');
});

t.test('bodies nested deeper than any request needs are a 400, not a crash', async (t) => {
  const app = await testApp(t);
  const deep = '['.repeat(5000) + ']'.repeat(5000);
  const res = await app.inject({ method: 'POST', url: '/v1/triage', headers: { 'content-type': 'application/json' }, payload: deep });
  t.equal(res.statusCode, 400);
  t.match(res.json(), { title: 'JSON too deep' });
  const proto = await app.inject({ method: 'POST', url: '/v1/triage', headers: { 'content-type': 'application/json' }, payload: '{"__proto__":{"x":1}}' });
  t.equal(proto.statusCode, 400, 'prototype poisoning is refused');
  t.equal((await get(app, '/health/ready')).status, 200);
});

t.test('every route driven with recognisable personal data: none of it reaches the logs', async (t) => {
  const log = logCapture();
  const app = await testApp(t, { logStream: log.stream, env: { LOG_LEVEL: 'trace' } });
  const { assessmentId, callbackId } = await callbackFor(app, contact);
  t.equal((await get(app, `/v1/assessments/${assessmentId}`)).status, 200, 'the patient reads their assessment, token and all');
  await post(app, `/v1/assessments/${assessmentId}/callback`, { ...contact, phone: '07700 900123 Zebedee' });
  await post(app, '/v1/assessments', { pathwayId: 'chest-pain', patient: { ageYears: 'Zebedee Quartermaine', sex: 'male' } });
  await post(app, `/v1/callbacks/${callbackId}/claim`, {}, STAFF['call-handler']);
  await post(app, `/v1/callbacks/${callbackId}/complete`, { outcome: 'advice_given', notes: 'Spoke to Zebedee Quartermaine on 07700 900123' }, STAFF['call-handler']);
  await get(app, `/v1/callbacks/${callbackId}`, STAFF['call-handler']);
  await get(app, '/v1/callbacks?status=completed', STAFF['call-handler']);
  await get(app, `/v1/assessments/${assessmentId}/traces`, STAFF.clinician);
  const traces = (await get(app, '/v1/traces', STAFF.clinician)).body.items as { id: string }[];
  await get(app, `/v1/traces/${traces[0]!.id}/explanation`, STAFF.clinician);
  await post(app, `/v1/traces/${traces[0]!.id}/replay`, {}, STAFF.clinician);
  await post(app, '/v1/triage', { pathwayId: 'chest-pain', patient, answers: { emergency_signs: ['Zebedee'] } });
  await get(app, `/v1/pathways/search?${new URLSearchParams({ q: 'Zebedee Quartermaine 07700 900123 burning', ageYears: '40', sex: 'male' })}`);
  const text = log.text();
  t.ok(text.length > 1000, 'there were logs to look through');
  // The phone number in full, every way it is written: a bare '7700' could turn up in pino's
  // millisecond timestamps (17961177001...), which is not the patient's number.
  for (const secret of ['Zebedee', 'Quartermaine', '07700 900123', '7700900123', 'burning', SECURITY_ENV.TRIAGE_API_KEYS.split(',')[0]!.split(':')[1]!]) {
    t.equal(text.indexOf(secret), -1, `${secret} is not in the logs`);
  }
  t.notOk(/"x-assessment-token":"[^[]/.test(text), 'assessment tokens are never logged');
});

t.test('production refuses to start without staff credentials and an encryption key', async (t) => {
  t.throws(() => loadConfig({ NODE_ENV: 'production' }), new ConfigError('invalid configuration: production needs staff credentials: TRIAGE_API_KEYS, TRIAGE_API_KEYS_FILE or AUTH_JWKS_URL'));
  t.throws(() => loadConfig({ NODE_ENV: 'production', TRIAGE_API_KEYS: SECURITY_ENV.TRIAGE_API_KEYS }), { message: /CONTACT_ENCRYPTION_KEYS/ });
  t.throws(() => loadConfig({ AUTH_JWKS_URL: 'https://idp.example/jwks.json' }), { message: /go together/ });
});

function start(env: Record<string, string>): Promise<{ stderr: string; code: number | null }> {
  const child = spawn(process.execPath, [path.join(REPO, 'dist/src/server.js')], { env: { ...process.env, PORT: '0', RULES_DIR: BASIC_RULES, ...env }, cwd: REPO });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      // One signal only: a second one during the graceful close would end the process outright.
      if (stdout.includes('triage service ready') && !child.killed) child.kill('SIGTERM');
    });
    child.on('exit', (code) => resolve({ stderr: stderr + stdout, code }));
  });
}

t.test('a newcomer with no keys gets development keys, printed once, kept for restarts', async (t) => {
  const dir = tempDir(t);
  const env = { DATABASE_URL: path.join(dir, 'x.db'), DEV_KEYS_FILE: path.join(dir, 'dev-keys.json') };
  const first = await start(env);
  t.equal(first.code, 0);
  t.match(first.stderr, /Development API keys \(send as x-api-key\)/);
  t.match(first.stderr, /development mode: staff API keys and the contact encryption key were generated/);
  const keys = JSON.parse(readFileSync(env.DEV_KEYS_FILE, 'utf8')) as { apiKeys: Record<string, string> };
  t.ok(first.stderr.includes(keys.apiKeys.admin!), 'the generated keys are shown');
  const second = await start(env);
  t.notOk(second.stderr.includes('Development API keys'), 'not shown again on restart');
  t.match(second.stderr, /development mode/, 'but the warning stays');
  const prod = await start({ ...env, NODE_ENV: 'production' });
  t.equal(prod.code, 1);
  t.match(prod.stderr, /production needs staff credentials/);
});
