import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, sql, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Test } from 'tap';
import Fastify from 'fastify';
import triageApp, { serverOptions, type AppOptions } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { Command } from '../src/cli/run.js';
import { enforceContract } from './contract.js';
import type { Role } from '../src/security/roles.js';
import { isPostgresUrl } from '../src/store/postgres.js';
import type { Database } from '../src/store/schema.js';
import { sqlitePath } from '../src/store/sqlite.js';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const BUNDLED_RULES = path.join(REPO, 'rules');
export const BASIC_RULES = path.join(REPO, 'test/fixtures/basic-rules');

/** A fresh directory removed when the test ends. */
export function tempDir(t: Test, prefix = 'triage-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  // Retried: a CI run once found a file made in it while it was being removed (ENOTEMPTY), and
  // the failed teardown left the test's app open until tap's time-out.
  t.teardown(() => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }));
  return dir;
}

/** What every rule set must hold: the global red flags, the catch-all, the modules and the dispositions catalogue. */
const ESSENTIAL = /^(kind: (global_red_flags|module)|catchAll: true)$/m;
let bundledFiles: { names: Set<string>; essential: string[] } | undefined;

/**
 * Some of the bundled pathways (by file name), with their scenarios and what every rule set needs,
 * copied into a directory of the test's own (tests may edit it). Suites about the queue, traces,
 * releases or security need a pathway, not the content: loading every bundled pathway costs about
 * a second for each app and each server a test starts.
 */
export function bundledRules(t: Test, pathways: string[] = ['chest-pain']): string {
  if (!bundledFiles) {
    const names = readdirSync(BUNDLED_RULES);
    const essential = names.filter((name) => name === 'dispositions.yaml' || ESSENTIAL.test(readFileSync(path.join(BUNDLED_RULES, name), 'utf8')));
    bundledFiles = { names: new Set(names), essential: essential.flatMap((name) => [name, name.replace(/\.yaml$/, '.scenarios.yaml')]) };
  }
  const dir = tempDir(t, 'triage-rules-');
  for (const name of [...bundledFiles.essential, ...pathways.flatMap((id) => [`${id}.yaml`, `${id}.scenarios.yaml`])]) {
    if (bundledFiles.names.has(name)) copyFileSync(path.join(BUNDLED_RULES, name), path.join(dir, name));
  }
  return dir;
}

/** TEST_THOROUGH=1 restores the full counts where suites sample the content (npm test samples). */
export const THOROUGH = process.env.TEST_THOROUGH === '1';

/**
 * The scenarios a suite that checks machinery, not content, walks: each file's first scenario of
 * each kind of outcome it expects (all of them with TEST_THOROUGH=1). `triage-rules test`, in npm
 * test, walks every scenario through the decision code.
 */
export function sampledScenarios<F extends { scenarios: { expect: { kind: string } }[] }>(files: F[]): F[] {
  if (THOROUGH) return files;
  return files.map((file) => ({ ...file, scenarios: file.scenarios.filter((s, i, all) => all.findIndex((o) => o.expect.kind === s.expect.kind) === i) }));
}

/**
 * Calls `name`, exported by `module`, on a thread of its own; resolves with what it returns. For
 * work deciding thousands of steps: tap's async hooks (async-hook-domain) run for every promise
 * made on a test's own thread, and json-rules-engine makes many, which makes that work about 1.8
 * times as slow there. The module gets its arguments rather than importing this file, to load
 * only what it uses.
 */
export function offThread<T>(module: URL, name: string, ...args: unknown[]): Promise<T> {
  const worker = new Worker(new URL('./off-thread.js', import.meta.url), { workerData: { module: module.href, name, args } });
  return new Promise<T>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`${name} stopped (exit ${code}) before it answered`)));
  });
}

/** Collects every log line the app writes, to assert on what must never appear. */
export function logCapture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** What a command line tool did: its exit code and everything it printed. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}
type CliOptions = { env?: Record<string, string>; cwd?: string };

/**
 * A command line tool run in-process, exactly as its main module runs it (src/cli/bin/*) but with
 * the output captured: this environment plus `env`, in `cwd` (the repository by default).
 */
export async function runCli(command: Command, args: string[], options: CliOptions = {}): Promise<CliResult> {
  const stdout = logCapture();
  const stderr = logCapture();
  const code = await command(args, { stdout: stdout.stream, stderr: stderr.stream, env: { ...process.env, ...options.env }, cwd: options.cwd ?? REPO });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/** The built program (dist/src/cli/bin/<name>.js) in a process of its own, for what needs one. */
export async function spawnCli(name: 'triage-rules' | 'traces', args: string[], options: CliOptions = {}): Promise<CliResult> {
  const bin = path.join(REPO, 'dist/src/cli/bin', `${name}.js`);
  return promisify(execFile)(process.execPath, [bin, ...args], { env: { ...process.env, ...options.env }, cwd: options.cwd ?? REPO }).then(
    (r) => ({ code: 0, ...r }),
    (e: CliResult) => e,
  );
}

/** Which database the suite runs on: SQLite by default, PostgreSQL with TEST_DATABASE=postgres. */
export const ON_POSTGRES = process.env.TEST_DATABASE === 'postgres';
export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * A fresh, empty database of its own for one test, dropped when the test ends: a SQLite file in
 * a temporary directory, or a new PostgreSQL database on the test server.
 */
export async function freshDatabaseUrl(t: Test): Promise<string> {
  if (!ON_POSTGRES) {
    return `sqlite:${path.join(tempDir(t), 'triage.db')}`;
  }
  const name = `triage_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    await c.connect();
    await c.query(`drop database if exists ${name} with (force)`);
    await c.end();
  });
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A connection of the test's own to a database, to change it behind the service's back (tamper
 * tests, a database as an older version left it): the store has no writable handle to lend.
 * Closed once `work` is done.
 */
export async function withRawDatabase<T>(url: string, work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const dialect = isPostgresUrl(url) ? new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }) : new SqliteDialect({ database: new SQLite(sqlitePath(url)) });
  const db = new Kysely<Database>({ dialect });
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}

/** The database each test app was opened on. */
const databaseUrls = new WeakMap<object, string>();
export const databaseUrlOf = (app: TestApp): string => databaseUrls.get(app)!;

/** Runs SQL straight against an app's database, on a connection of its own (see withRawDatabase). */
export async function rawSql(app: TestApp, statement: string): Promise<void> {
  await withRawDatabase(databaseUrlOf(app), (db) => sql.raw(statement).execute(db));
}

/**
 * A real app on a real database of its own (see freshDatabaseUrl), closed when the test ends. It
 * serves the bundled chest-pain pathway (bundledRules) unless given `rulesDir`: suites about the
 * content pass BUNDLED_RULES. It decides on the event loop (TRIAGE_WORKERS=0: the same decideStep
 * the worker threads run), as starting a thread costs about a second per app; the suites about the
 * decision path pass TRIAGE_WORKERS, and servers started by startServer keep the default.
 * Every response it gives is checked against openapi/openapi.json (test/contract.ts).
 */
export async function testApp(t: Test, options: { rulesDir?: string; env?: Record<string, string>; logStream?: Writable } & Omit<AppOptions, 'config'> = {}) {
  const dir = tempDir(t);
  // Close the app before its database is dropped (teardowns run in the order they are added).
  const opened: ReturnType<typeof Fastify>[] = [];
  t.teardown(() => opened[0]?.close());
  const config = loadConfig({
    DATABASE_URL: options.env?.DATABASE_URL ?? (await freshDatabaseUrl(t)),
    RULES_DIR: options.rulesDir ?? bundledRules(t),
    LOG_LEVEL: options.logStream ? 'info' : 'silent',
    TRIAGE_WORKERS: '0',
    // A loaded test machine must not turn a decision into its time-out fail-safe; that fail-safe
    // has tests of its own (test/triage/decide.test.ts, decision-pool.test.ts).
    TRIAGE_EVAL_TIMEOUT_MS: '5000',
    ...SECURITY_ENV,
    DEV_KEYS_FILE: path.join(dir, 'dev-keys.json'),
    ...options.env,
  });
  const instance = Fastify(serverOptions(config, options.logStream));
  opened.push(instance);
  enforceContract(t, instance);
  await instance.register(triageApp, { config, now: options.now });
  databaseUrls.set(instance, config.DATABASE_URL);
  return instance;
}

export type TestApp = Awaited<ReturnType<typeof testApp>>;

/** One API key per role, and twenty more call handlers for the concurrency tests. */
const KEYS: Record<Role, string> = {
  'call-handler': 'test-key-call-handler-0000',
  clinician: 'test-key-clinician-00000000',
  auditor: 'test-key-auditor-0000000000',
  admin: 'test-key-admin-000000000000',
};
export const HANDLER_KEYS = Array.from({ length: 20 }, (_, i) => `test-key-handler-${String(i).padStart(2, '0')}-000000`);
export const ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');
export const SECURITY_ENV = {
  TRIAGE_API_KEYS: [...Object.entries(KEYS).map(([role, key]) => `${role}:${key}`), ...HANDLER_KEYS.map((key) => `call-handler:${key}`)].join(','),
  CONTACT_ENCRYPTION_KEYS: `k1:${ENCRYPTION_KEY}`,
  RATE_LIMIT_PER_MINUTE: '1000000',
  STAFF_RATE_LIMIT_PER_MINUTE: '1000000',
};
export const STAFF = Object.fromEntries(Object.entries(KEYS).map(([role, key]) => [role, { 'x-api-key': key }])) as unknown as Record<Role, Record<string, string>>;
export const asHandler = (i: number): Record<string, string> => ({ 'x-api-key': HANDLER_KEYS[i]! });
/** The handler id the service derives from handler key i (role and a hash prefix, never the key). */
export const handlerIdOf = (i: number): string => `key:call-handler:${createHash('sha256').update(HANDLER_KEYS[i]!).digest('hex').slice(0, 8)}`;

/**
 * Like a patient's browser, the helpers keep each assessment's token and send it on that
 * assessment's own routes. Nothing else is added: a test calling a staff route passes the staff
 * credential it uses (STAFF.clinician, asHandler(i), ...), and headers given replace the token.
 */
const tokens = new WeakMap<object, Map<string, string>>();

function defaultHeaders(app: TestApp, url: string): Record<string, string> {
  const assessment = /^\/v1\/assessments\/([^/?]+)(\/answers|\/callback)?(\?|$)/.exec(url);
  const token = assessment && tokens.get(app)?.get(assessment[1]!);
  return token ? { 'x-assessment-token': token } : {};
}

function remember(app: TestApp, url: string, reply: Reply): Reply {
  if (url === '/v1/assessments' && reply.status === 201) {
    const map = tokens.get(app) ?? new Map<string, string>();
    map.set(reply.body.id, reply.body.token);
    tokens.set(app, map);
  }
  return reply;
}

export function tokenOf(app: TestApp, id: string): string {
  return tokens.get(app)!.get(id)!;
}

export interface Reply {
  status: number;

  body: any;
  headers: Record<string, string | string[] | number | undefined>;
}

export async function post(app: TestApp, url: string, body: unknown, headers?: Record<string, string>): Promise<Reply> {
  const res = await app.inject({ method: 'POST', url, payload: body as object, headers: headers ?? defaultHeaders(app, url) });
  return remember(app, url, { status: res.statusCode, body: res.json(), headers: res.headers });
}

export async function get(app: TestApp, url: string, headers?: Record<string, string>): Promise<Reply> {
  const res = await app.inject({ method: 'GET', url, headers: headers ?? defaultHeaders(app, url) });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

/**
 * Starts the real server (dist/src/server.js) as a child process with the test credentials, and
 * resolves once it listens; output() is all it has written to stdout so far. Killed when the test ends if it is still running.
 */
export async function startServer(t: Test, env: Record<string, string>): Promise<{ child: ChildProcess; base: string; output: () => string }> {
  const child = spawn(process.execPath, [path.join(REPO, 'dist/src/server.js')], {
    env: { ...process.env, ...SECURITY_ENV, PORT: '0', RULES_DIR: env.RULES_DIR ?? bundledRules(t), LOG_LEVEL: 'info', ...env },
    cwd: REPO,
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  const base = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`server exited early (${code})`)));
  });
  return { child, base, output: () => out };
}

/** Chest pain answers that end in a 1-hour callback outcome. */
export const CALLBACK_ANSWERS: Readonly<Record<string, string | boolean | string[]>> = {
  emergency_signs: ['none'],
  pain_now: false,
  pain_feel: 'burning',
  pain_spreads: ['none'],
  associated: ['none'],
  coughing_blood: false,
  injury: false,
  started: 'within_12h',
};

/** A chest pain assessment walked to a 1-hour callback outcome; returns its id. */
export async function callbackAssessment(app: TestApp): Promise<string> {
  const answers = CALLBACK_ANSWERS;
  const start = await post(app, '/v1/assessments', { pathwayId: 'chest-pain', patient: { ageYears: 52, sex: 'male' } });
  let step = start.body;
  while (step.status === 'in_progress') {
    step = (await post(app, `/v1/assessments/${start.body.id}/answers`, { questionId: step.question.id, value: answers[step.question.id] })).body;
  }
  return start.body.id;
}

/** A callback outcome and the patient's request for it. */
export async function callbackFor(
  app: TestApp,
  contact: { name: string; phone: string; consent: boolean } = { name: 'Test Patient', phone: '07700 900123', consent: true },
): Promise<{ assessmentId: string; callbackId: string }> {
  const assessmentId = await callbackAssessment(app);
  const cb = await post(app, `/v1/assessments/${assessmentId}/callback`, contact);
  return { assessmentId, callbackId: cb.body.id };
}

/**
 * Verifies the trace chain as an auditor's tooling would: starts a verification (202, with a
 * Location), then follows it until it is no longer running; the last state read. `read` GETs a
 * path with staff credentials.
 */
export async function followVerification(read: (path: string) => Promise<Pick<Reply, 'status' | 'body' | 'headers'>>, query = ''): Promise<Reply['body']> {
  let started = await read(`/v1/traces/verify${query}`);
  // Another range being verified on this instance: wait for it, as a client would.
  while (started.status === 409) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    started = await read(`/v1/traces/verify${query}`);
  }
  if (started.status !== 202) {
    throw new Error(`GET /v1/traces/verify${query}: ${started.status} ${JSON.stringify(started.body)}`);
  }
  for (;;) {
    const job = await read(String(started.headers.location));
    if (job.body.state !== 'running') return job.body;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
