import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { callbackFor, get, logCapture, STAFF, tempDir, testApp } from '../helpers.js';

/** The limits the README promises: request time, file modes, staff request rates, dev-key notice. */

t.test('a request body sent too slowly is cut off at REQUEST_TIMEOUT_MS with a 408, and logged once', async (t) => {
  const log = logCapture();
  const app = await testApp(t, { logStream: log.stream, env: { REQUEST_TIMEOUT_MS: '1000' } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const socket = net.connect((app.server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(socket, 'connect');
  socket.on('error', () => undefined); // writes after the server hangs up
  let response = '';
  socket.on('data', (d: Buffer) => (response += d.toString()));
  const started = Date.now();
  socket.write('POST /v1/triage HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n');
  // One byte of JSON whitespace every 100 ms: never idle, never finished.
  const trickle = setInterval(() => socket.write(' '), 100);
  t.teardown(() => clearInterval(trickle));
  const deadline = new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), 8_000).unref());
  const outcome = await Promise.race([once(socket, 'close').then(() => Date.now() - started), deadline]);
  socket.destroy();
  t.type(outcome, 'number', `the server closed the connection (${outcome})`);
  t.ok(Number(outcome) >= 1000 && Number(outcome) < 4000, `closed between 1 and 4 s after it opened (${outcome} ms)`);
  t.match(response, /^HTTP\/1\.1 408 /, 'with a 408');
  t.equal((await get(app, '/health/live')).status, 200, 'the service carries on');
  // Never answered by the service (Node sent the 408), so its one log line is the abort's.
  const lines = log
    .text()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string; req?: { method: string; url: string } });
  t.match(
    lines.filter((l) => l.req?.url === '/v1/triage'),
    [{ msg: 'request aborted', req: { method: 'POST', url: '/v1/triage' } }],
  );
});

t.test('the request timeout defaults to the documented 30 s, for the headers as for the whole', async (t) => {
  const app = await testApp(t);
  t.equal(app.server.requestTimeout, 30_000);
  t.equal(app.server.headersTimeout, 30_000, 'a longer headers timeout would stand in for it');
});

t.test('the SQLite database, its log and its shared memory are created readable by the owner only', async (t) => {
  const file = path.join(tempDir(t), 'triage.db');
  const app = await testApp(t, { env: { DATABASE_URL: `sqlite:${file}` } });
  await callbackFor(app);
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    t.equal((statSync(f).mode & 0o777).toString(8), '600', `${path.basename(f)} is 0600`);
  }
});

t.test('staff routes are rate limited per principal, not per address: a 429 problem with Retry-After', async (t) => {
  const app = await testApp(t, { env: { STAFF_RATE_LIMIT_PER_MINUTE: '3' } });
  const from = (address: string, url: string, headers: Record<string, string>) => app.inject({ method: 'GET', url, headers, remoteAddress: address });
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await from(`127.0.0.${i + 2}`, '/v1/traces', STAFF.auditor)).statusCode);
  t.same(statuses, [200, 200, 200], 'three requests from three addresses');
  const limited = await from('127.0.0.9', '/v1/admin/releases', STAFF.auditor);
  t.equal(limited.statusCode, 429, 'the fourth, from a fourth address and to another group of routes, is over the limit');
  t.match(limited.json(), { status: 429, title: 'Too many requests', detail: /^more than 3 requests a minute from key:auditor:[0-9a-f]{8}; try again in \d+ seconds$/ });
  t.match(String(limited.headers['content-type']), /application\/problem\+json/);
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After says when');
  t.equal((await from('127.0.0.2', '/v1/traces', STAFF.clinician)).statusCode, 200, 'another principal at the same address is not limited');
  t.equal((await from('127.0.0.2', '/v1/traces', {})).statusCode, 401, 'no credential is still a 401');
  t.equal((await from('127.0.0.2', '/v1/pathways', {})).statusCode, 200, 'patient routes have their own limit');
});

t.test('in development without CONTACT_ENCRYPTION_KEYS, one line at start says the generated key is in use', async (t) => {
  const log = logCapture();
  const dir = tempDir(t);
  const keysFile = path.join(dir, 'dev-keys.json');
  const app = await testApp(t, { logStream: log.stream, env: { CONTACT_ENCRYPTION_KEYS: '', DEV_KEYS_FILE: keysFile } });
  const lines = log
    .text()
    .split('\n')
    .filter((line) => line.includes('development mode'));
  t.equal(lines.length, 1, 'said once');
  t.match(JSON.parse(lines[0]!), {
    level: 40,
    msg: `development mode: the contact encryption key was generated, not configured, and kept in ${keysFile}; never use this in production`,
  });
  const { encryptionKey, apiKeys } = JSON.parse(readFileSync(keysFile, 'utf8')) as { encryptionKey: string; apiKeys: Record<string, string> };
  for (const secret of [encryptionKey, ...Object.values(apiKeys)]) {
    t.notOk(log.text().includes(secret), 'no key material in the logs');
  }
  const { callbackId } = await callbackFor(app);
  t.equal((await get(app, `/v1/callbacks/${callbackId}`, STAFF['call-handler'])).body.name, 'Test Patient', 'contact details seal and open with it');
  t.equal((await get(app, '/v1/traces', { 'x-api-key': apiKeys.admin! })).status, 401, 'the configured staff keys are used, not the generated ones');
});
