import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { REPO } from './helpers.js';

/** Keeps the benchmark harness working: one quick pass, and every figure is a real number. */
t.test('npm run bench, quick: a table with engine, store and HTTP figures', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(REPO, 'dist/bench/run.js'), '--quick'], { cwd: REPO, timeout: 120_000 });
  t.match(stdout, /Node v\d+.*\d+ cores/);
  t.match(stdout, /\| engine \| fever-child \(\d+ rules\)\s+\|\s+\| \d+ us\s+\| \d+ us/);
  t.match(stdout, /\| store\s+\| trace appends, one durable commit each \| [1-9]\d*\/s/);
  for (const route of ['POST /bench/echo \\(baseline\\)', 'POST /v1/triage', 'POST /v1/assessments/:id/answers']) {
    t.match(stdout, new RegExp(`\\| http\\s+\\| ${route}.*\\| [1-9]\\d*/s\\s+\\| \\d+ ms\\s+\\| \\d+ ms\\s+\\| \\d+\\.\\d\\d`), route);
  }
});
