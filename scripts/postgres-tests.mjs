// Runs the store-level suites again on PostgreSQL (TEST_DATABASE=postgres), plus the test of two
// instances on one database. With CI=true an unreachable PostgreSQL fails the run; elsewhere the
// PostgreSQL suites are skipped with a message.
import { spawnSync } from 'node:child_process';
import pg from 'pg';

const url = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
try {
  await client.connect();
  await client.end();
} catch (err) {
  const where = new URL(url);
  console.error(`PostgreSQL is not reachable at ${where.host}${where.pathname}: ${err.message}`);
  if (process.env.CI === 'true') process.exit(1);
  console.error('skipping the PostgreSQL suites (CI=true makes this a failure)');
  process.exit(0);
}
const files = [
  'dist/test/callbacks/queue.test.js',
  'dist/test/callbacks/answers-changed.test.js',
  'dist/test/callbacks/audit.test.js',
  'dist/test/traces/chain.test.js',
  'dist/test/traces/replay.test.js',
  'dist/test/traces/explain.test.js',
  'dist/test/http/walkthrough.test.js',
  'dist/test/http/errors.test.js',
  'dist/test/triage/concurrency.test.js',
  'dist/test/security/access.test.js',
  'dist/test/releases/releases.test.js',
  'dist/test/store/group-commit.test.js',
  'dist/test/store/multi-instance.test.js',
];
const run = spawnSync('npx', ['tap', ...files], { stdio: 'inherit', env: { ...process.env, TEST_DATABASE: 'postgres' } });
process.exit(run.status ?? 1);
