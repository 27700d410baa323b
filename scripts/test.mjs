// npm test, after the build: lint and format beside the contract and rule checks, stopping at a failure; then the SQLite run
// with coverage (its floor is in package.json "tap"); then, whatever happened, which tests did not
// run anywhere and why (no Chromium, no PostgreSQL, ...), so a green run says what it did not check.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runPostgresSuites, taggedSuites } from './postgres-suites.mjs';

const SUITES = 'dist/test/**/*.test.js';

/** Redocly CLI would otherwise send usage data and look for updates over the network. */
const redoclyEnv = { REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' };

// Each step says how long it took, so a slow CI run shows where its time went.
function run(command, args) {
  const started = Date.now();
  const status = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, ...redoclyEnv } }).status ?? 1;
  console.log(`# ${[command, ...args].join(' ')}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return status;
}

/** Runs a lane's commands in turn, stopping at the first that fails; gives back the failed one, if any. */
async function runLane(commands) {
  for (const [command, ...args] of commands) {
    const started = Date.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...redoclyEnv } });
    const output = [];
    child.stdout.on('data', (chunk) => output.push(chunk));
    child.stderr.on('data', (chunk) => output.push(chunk));
    // A command that cannot start (not installed) fails its lane with the reason, then 'close' follows.
    child.on('error', (err) => output.push(Buffer.from(`${err.message}\n`)));
    const status = await new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
    process.stdout.write(Buffer.concat(output));
    console.log(`# ${[command, ...args].join(' ')}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (status !== 0) return [[command, ...args]];
  }
  return [];
}

/**
 * What tap saved of each file's run (.tap/test-results): for every test, by file and name, the
 * reason it was skipped, or null when it ran.
 */
function outcomes(files) {
  const found = new Map();
  for (const file of files) {
    const saved = path.join('.tap/test-results', `${file}.tap`);
    if (!existsSync(saved)) continue;
    for (const line of readFileSync(saved, 'utf8').split('\n')) {
      const plan = /^\s*1\.\.0 # skip\b:?\s*(.*)$/i.exec(line);
      if (plan) found.set(`${file}\t(every test)`, plan[1] || 'skipped');
      const test = /^\s*(?:not )?ok \d+ - (.*?)(?: # (SKIP|TODO)\b:?\s*(.*?))?(?: # time=\S+)?$/.exec(line);
      if (test) found.set(`${file}\t${test[1]}`, test[2] ? `${test[2] === 'TODO' ? 'to do' : 'skipped'}${test[3] ? `: ${test[3]}` : ''}` : null);
    }
  }
  return found;
}

const notRun = [];
function summary() {
  console.log(notRun.length ? `\nNot run anywhere in this npm test (${notRun.length}):\n${notRun.map((s) => `  - ${s}`).join('\n')}` : '\nEvery test ran.');
}

function finish(code) {
  summary();
  process.exit(code);
}

// The checks before the suites, in two lanes at once (each is one busy thread; the machines have
// two cores): lint and format, against the contract and rule checks. Each command's output is
// printed whole when it ends, so the two lanes' lines do not interleave.
const lanes = [
  [['npm', 'run', '--silent', 'lint']],
  [
    // tap builds its Test class for the plugins package.json names, but only once a run has
    // started: that first run after `npm ci` (every CI run) still loads the plugins turned off
    // (TypeScript, mocks) into every test process, which made it 90 s slower. Built here first.
    ['npx', 'tap', 'build'],
    ['node', 'dist/src/cli/openapi.js', 'check'],
    // Redocly's recommended rules, offline: no telemetry, no update check (see redoclyEnv).
    ['npx', 'redocly', 'lint', 'openapi/openapi.json', '--extends', 'recommended', '--format', 'summary'],
    ['node', 'dist/src/cli/bin/triage-rules.js', 'lint'],
    ['node', 'dist/src/cli/bin/triage-rules.js', 'test'],
    ['node', 'dist/src/cli/bin/triage-rules.js', 'coverage'],
  ],
];
const failed = (await Promise.all(lanes.map(runLane))).flat();
if (failed.length) {
  notRun.push(`the tap suites, on SQLite and PostgreSQL: not started, ${failed.map((c) => `\`${c.join(' ')}\``).join(' and ')} failed`);
  finish(1);
}

const sqliteCode = run('npx', ['tap', '--no-disable-coverage', SUITES]);
// The SQLite run's outcomes, read before the PostgreSQL run saves its own over them.
const compiled = readdirSync('dist/test', { recursive: true }).filter((name) => name.endsWith('.test.js'));
const sqlite = outcomes(compiled.map((name) => path.join('dist/test', name)).sort());
const postgresRun = sqliteCode === 0 ? await runPostgresSuites() : { code: sqliteCode, skipped: 'not started, the SQLite run failed' };
const postgres = postgresRun.skipped ? new Map() : outcomes(taggedSuites());

// A test skipped in one run is not missing if the other ran it (a PostgreSQL-only test, say).
for (const key of new Set([...sqlite.keys(), ...postgres.keys()])) {
  const [onSqlite, onPostgres] = [sqlite.get(key), postgres.get(key)];
  if (onSqlite === null || onPostgres === null) continue;
  const why = [onSqlite && `on SQLite ${onSqlite}`, onPostgres && `on PostgreSQL ${onPostgres}`].filter(Boolean).join('; ');
  notRun.push(`${key.replace('\t', ': ')} (${why})`);
}
if (postgresRun.skipped) notRun.push(`the PostgreSQL suites: ${postgresRun.skipped}`);
finish(postgresRun.code);
