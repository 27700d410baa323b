import t from 'tap';
import { run } from '../../src/cli/triage-rules.js';
import { DecisionLoad } from '../decision-load.js';
import { bundledRules, runCli, SECURITY_ENV, STAFF, startServer } from '../helpers.js';
import { privatePostgres, privatePostgresMissing } from './private-postgres.js';

/**
 * PostgreSQL going away under load and coming back (a restart, a failover), on a private cluster
 * of the test's own: the service stays up, says 503 with Retry-After meanwhile (never 500),
 * recovers by itself, keeps what it acknowledged, and its instances agree on the active release.
 */
const skip = privatePostgresMissing();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function ready(base: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.json() };
}

/** Polls until check() holds; resolves with how long that took. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<number> {
  const started = Date.now();
  while (!(await check().catch(() => false))) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await pause(20);
  }
  return Date.now() - started;
}

t.test('a PostgreSQL restart under load: 503 with Retry-After meanwhile, recovery, nothing acknowledged lost', { skip }, async (t) => {
  const cluster = await privatePostgres(t);
  const { child, base } = await startServer(t, { DATABASE_URL: await cluster.database() });
  let exit: string | undefined;
  child.on('exit', (code, signal) => (exit = `exited (${code ?? signal})`));
  const load = new DecisionLoad();
  load.start(base);
  await until('decisions acknowledged before the outage', async () => load.acknowledged.length > 100);

  await cluster.stop();
  const readyWhileDown = await ready(base);
  t.match(readyWhileDown, { status: 503, body: { status: 'not_ready', reason: /database unreachable/ } }, 'not ready while the database is down');
  // Long enough for every worker to be refused a few times, and past the old listener's one retry.
  await pause(2000);
  t.equal(exit, undefined, 'the service is still running');
  const refusedWhileDown = load.refused.length;
  t.ok(refusedWhileDown > 0, `${refusedWhileDown} requests refused while the database was down`);

  await cluster.start();
  const before = load.acknowledged.length;
  const recoveredMs = await until('decisions acknowledged again', async () => load.acknowledged.length > before + 5);
  t.ok(recoveredMs < 1000, `decisions acknowledged again ${recoveredMs} ms after the database came back`);
  await until('ready again', async () => (await ready(base)).status === 200, 1000);
  await load.stop();

  t.equal(exit, undefined, 'the service never died');
  const wrong = load.refused.filter((r) => !(r.status === 503 && r.contentType.startsWith('application/problem+json') && Number(r.retryAfter) > 0));
  t.same(wrong.slice(0, 3), [], `all ${load.refused.length} refusals were 503 problem+json with Retry-After`);
  t.match(load.refused[0], { body: { title: 'Database unavailable', status: 503 } });
  await load.checkKept(t, base);
});

async function call(base: string, method: string, url: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${url}`, { method, headers, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as any };
}

t.test('after a restart between two activations, both instances serve the database active release', { skip }, async (t) => {
  const cluster = await privatePostgres(t);
  const db = await cluster.database();
  const rules = bundledRules(t);
  const [a, b] = await Promise.all([startServer(t, { DATABASE_URL: db }), startServer(t, { DATABASE_URL: db })]);
  const release = async (summary: string) => {
    const cli = await runCli(run, ['release', rules, '--summary', summary, '--format', 'json'], { env: { ...SECURITY_ENV, DATABASE_URL: db, TRIAGE_API_KEY: STAFF.clinician['x-api-key']! } });
    if (cli.code !== 0) throw new Error(`release refused: ${cli.stdout}${cli.stderr}`);
    return JSON.parse(cli.stdout).release.id as string;
  };
  const [first, second] = [await release('first'), await release('second')];
  const serving = async (id: string) => (await ready(a.base)).body.release === id && (await ready(b.base)).body.release === id;

  t.equal((await call(a.base, 'POST', `/v1/admin/releases/${first}/activate`, STAFF.admin)).status, 200);
  await until('both serve the first release', () => serving(first), 5000);

  // A console on B, to hear that it should refresh once B is listening again.
  const controller = new AbortController();
  t.teardown(() => controller.abort());
  const events = await fetch(`${b.base}/v1/callbacks/events`, { headers: STAFF['call-handler'], signal: controller.signal });
  const reader = events.body!.getReader();
  let heard = '';
  const listening = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      heard += Buffer.from(value!).toString();
    }
  })();

  await cluster.stop();
  await pause(2000);
  await cluster.start();
  // Activated as soon as A can reach the database: B may not be listening yet, and must catch up.
  await until('A activates the second release', async () => (await call(a.base, 'POST', `/v1/admin/releases/${second}/activate`, STAFF.admin)).status === 200, 5000);
  const caughtUp = await until('both serve the second release', () => serving(second), 10_000);
  t.pass(`both instances serve the database's active release ${caughtUp} ms after it was activated`);
  t.equal((await call(b.base, 'GET', '/v1/admin/releases', STAFF.admin)).body.active, second, "and it is the database's active release");
  await until("B's console is told to refresh", async () => heard.includes('event: refresh'), 5000);
  controller.abort();
  await listening;
});

t.test('readiness says the listener is down until it has reconnected', { skip }, async (t) => {
  const cluster = await privatePostgres(t);
  const db = await cluster.database();
  const name = new URL(db).pathname.slice(1);
  const { base } = await startServer(t, { DATABASE_URL: db });
  t.equal((await ready(base)).status, 200);
  // The database refuses new connections; the pool's open ones still answer the ping.
  await cluster.admin(`alter database ${name} allow_connections false`);
  const { rows } = await cluster.admin(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}' and query ilike 'listen%'`);
  t.equal(rows.length, 1, "the instance's listening connection was dropped");
  await until(
    'not ready: listener down',
    async () => {
      const r = await ready(base);
      return r.status === 503 && /listener/.test(r.body.reason);
    },
    5000,
  );
  await cluster.admin(`alter database ${name} allow_connections true`);
  const back = await until('ready again', async () => (await ready(base)).status === 200, 5000);
  t.ok(back < 1500, `ready again ${back} ms after the database accepted connections`);
});
