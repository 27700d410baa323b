// The suites tagged `// @tag postgres` (a line of their own in test/**/*.test.ts), run again on
// PostgreSQL (TEST_DATABASE=postgres): the store-level suites and the test of two instances on one
// database. Used by scripts/postgres-tests.mjs (npm run test:postgres) and scripts/test.mjs.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';

const TAG = /^\/\/ @tag postgres/m;

/** Why the test server cannot be used (a sentence), or undefined when it answers. */
async function unreachable(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch (err) {
    const where = new URL(url);
    return `PostgreSQL is not reachable at ${where.host}${where.pathname}: ${err.message}`;
  }
}

/** The compiled test files carrying the tag. */
export function taggedSuites() {
  return readdirSync('test', { recursive: true })
    .filter((name) => name.endsWith('.test.ts') && TAG.test(readFileSync(path.join('test', name), 'utf8')))
    .map((name) => path.join('dist/test', name.replace(/\.ts$/, '.js')))
    .sort();
}

/**
 * Runs the tagged suites on PostgreSQL with `tapArgs` added; `{ code }` is tap's exit code, and
 * `skipped` says why they did not run. With CI=true an unreachable server fails (code 1).
 */
export async function runPostgresSuites(tapArgs = []) {
  const reason = await unreachable(process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  if (reason && process.env.CI === 'true') {
    console.error(reason);
    return { code: 1 };
  }
  if (reason) return { code: 0, skipped: `${reason} (CI=true makes this a failure)` };
  const files = taggedSuites();
  if (!files.length) {
    console.error('no test file is tagged // @tag postgres');
    return { code: 1 };
  }
  const started = Date.now();
  const run = spawnSync('npx', ['tap', ...tapArgs, ...files], { stdio: 'inherit', env: { ...process.env, TEST_DATABASE: 'postgres' } });
  console.log(`# the PostgreSQL suites: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { code: run.status ?? 1 };
}
