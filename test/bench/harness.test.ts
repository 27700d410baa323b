import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { REPO } from '../helpers.js';

const NUMBER = '[1-9][\\d,.]*';

/** Keeps the benchmark harness working: one quick pass, and every figure is a real number. */
t.test('npm run bench, quick: a table with engine, store, HTTP, memory and verify figures', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(REPO, 'dist/bench/run.js'), '--quick'], { cwd: REPO, timeout: 150_000 });
  const row = (kind: string, what: string) => stdout.split('\n').find((line) => line.startsWith(`| ${kind} `) && line.includes(what));
  t.match(stdout, /Node v\d+.*\d+ cores/);
  t.match(row('engine', 'fever-child'), new RegExp(`\\| ${NUMBER} us\\s+\\| ${NUMBER} us .*median < 150 us: (met|NOT met)`));
  t.match(row('store', '1 writer'), new RegExp(`\\| ${NUMBER}/s`));
  t.match(row('store', '50 writers (group commit'), new RegExp(`\\| ${NUMBER}/s .*>= 2000/s durable: (met|NOT met)`));
  t.match(row('store', 'callback claims, 20 claimers'), new RegExp(`\\| ${NUMBER}/s`));
  for (const route of [
    'POST /bench/echo (baseline)',
    'POST /v1/triage (fever-child, every scenario step)',
    'POST /v1/triage (fever-child, every scenario step) at 0.3 of the baseline rate',
    'POST /v1/assessments/:id/answers',
    'POST /v1/assessments/:id/answers at 0.25 of the baseline rate',
    'GET /v1/callbacks (500 waiting)',
    'GET /v1/callbacks (500 waiting) at 500/s',
  ]) {
    const line = row('http', route);
    // Throughput, p50 and p99 as the load generator saw them, the same inside the server, how
    // long the generator itself was held up, the ratio.
    t.match(line, new RegExp(`\\| ${NUMBER}/s\\s+\\| \\d+ ms\\s+\\| \\d+ ms\\s+\\| \\d+\\.\\d / \\d+\\.\\d ms\\s+\\| \\d+ ms\\s+\\| \\d+\\.\\d\\d`), route);
    t.notMatch(line, /non-2xx/, `${route}: every response a success`);
  }
  for (const what of ['no verification running', 'while verifying 2,000 traces']) {
    const line = row('verify', what);
    t.match(line, new RegExp(`\\| ${NUMBER}/s\\s+\\| \\d+ ms\\s+\\| \\d+ ms\\s+\\| p99 \\d+\\.\\d ms`), what);
    t.notMatch(line, /non-2xx/, `${what}: every response a success`);
  }
  t.match(row('verify', 'GET /v1/traces/verify, 2,000 traces'), new RegExp(`\\| ${NUMBER} traces/s\\s+\\| \\d+\\.\\d s`));
  t.match(row('memory', 'RSS before / after 1,000 assessments (0 non-2xx)'), /\d+ MiB \/ \d+ MiB/);
  t.match(row('memory', 'soak'), /growth < 10%/);
});
