// Runs the suites tagged `// @tag postgres` (a line of their own in test/**/*.test.ts) again on
// PostgreSQL (TEST_DATABASE=postgres): the store-level suites and the test of two instances on one
// database. With CI=true an unreachable PostgreSQL fails the run; elsewhere the PostgreSQL suites
// are skipped with a message.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
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
const TAG = /^\/\/ @tag postgres/m;
const files = readdirSync('test', { recursive: true })
  .filter((name) => name.endsWith('.test.ts') && TAG.test(readFileSync(path.join('test', name), 'utf8')))
  .map((name) => path.join('dist/test', name.replace(/\.ts$/, '.js')))
  .sort();
if (!files.length) {
  console.error('no test file is tagged // @tag postgres');
  process.exit(1);
}
const run = spawnSync('npx', ['tap', ...files], { stdio: 'inherit', env: { ...process.env, TEST_DATABASE: 'postgres' } });
process.exit(run.status ?? 1);
