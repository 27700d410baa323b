import { spawn } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.js';
import { BASIC_RULES, REPO, SECURITY_ENV, tempDir } from './helpers.js';

t.test('defaults: port 3000, a SQLite file under ./data, the bundled rules', async (t) => {
  const config = loadConfig({});
  t.match(config, { PORT: 3000, DATABASE_URL: 'sqlite:./data/triage.db', RULES_DIR: './rules', LOG_LEVEL: 'info' });
  t.match(config, { REQUEST_TIMEOUT_MS: 30_000, RATE_LIMIT_PER_MINUTE: 120, STAFF_RATE_LIMIT_PER_MINUTE: 600 }, 'the documented limits');
});

t.test('a bad value is one clear line naming the variable', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), new ConfigError('invalid configuration: PORT="eighty": Invalid input: expected number, received NaN'));
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), { message: /^invalid configuration: LOG_LEVEL="loud": / });
  t.throws(() => loadConfig({ CALLBACK_LEASE_SECONDS: 'ten minutes' }), { message: /^invalid configuration: CALLBACK_LEASE_SECONDS="ten minutes": / });
});

function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string; child: ReturnType<typeof spawn> }> {
  const child = spawn(process.execPath, [path.join(REPO, 'dist/src/server.js')], { env: { ...process.env, ...SECURITY_ENV, ...env }, cwd: REPO });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr, stdout, child })));
}

t.test('the server refuses to start on bad configuration, with one line', async (t) => {
  const { code, stderr } = await run({ PORT: '99999' });
  t.equal(code, 1);
  t.equal(stderr.trim().split('\n').length, 1);
  t.match(stderr, /^invalid configuration: PORT="99999"/);
});

t.test('the server refuses to start on an invalid rule set, naming file:line:column', async (t) => {
  const dir = tempDir(t);
  const { code, stderr } = await run({ RULES_DIR: path.join(REPO, 'test/fixtures'), DATABASE_URL: path.join(dir, 'x.db') });
  t.equal(code, 1);
  t.match(stderr, /rule set refused/);
});

t.test('SIGTERM closes gracefully and exits 0', async (t) => {
  const dir = tempDir(t);
  const child = spawn(process.execPath, [path.join(REPO, 'dist/src/server.js')], {
    env: { ...process.env, ...SECURITY_ENV, PORT: '0', DATABASE_URL: path.join(dir, 'x.db'), RULES_DIR: BASIC_RULES },
    cwd: REPO,
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('triage service ready')) {
        resolve();
      }
    }),
  );
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  t.match(out, /"signal":"SIGTERM"/);
});
