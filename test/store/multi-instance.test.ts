// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import t from 'tap';
import { asHandler, bundledRules, CALLBACK_ANSWERS, followVerification, freshDatabaseUrl, ON_POSTGRES, SECURITY_ENV, spawnCli, STAFF, startServer } from '../helpers.js';

/**
 * Two server processes on different ports, one PostgreSQL database: concurrent assessments and
 * claims through both. No double claims, no lost traces, the chain verifies, and a console on one
 * instance hears changes made through the other.
 */
async function call(base: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any, headers: Object.fromEntries(res.headers) };
}

t.test('two instances on one database', { skip: ON_POSTGRES ? false : 'runs in the PostgreSQL suite (TEST_DATABASE=postgres)' }, async (t) => {
  const db = await freshDatabaseUrl(t);
  // Both start together: migrations must be safe to run concurrently.
  const [a, b] = await Promise.all([startServer(t, { DATABASE_URL: db }), startServer(t, { DATABASE_URL: db })]);
  const ready = await Promise.all([a, b].map((i) => call(i.base, 'GET', '/health/ready')));
  t.same(ready[0]!.body.pathways, ready[1]!.body.pathways, 'both serve the same rule-set version hashes');

  // A console on instance A listens for queue changes.
  const heard: string[] = [];
  const controller = new AbortController();
  const events = await fetch(`${a.base}/v1/callbacks/events`, { headers: STAFF['call-handler'], signal: controller.signal });
  const reader = events.body!.getReader();
  const listening = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      for (const m of Buffer.from(value!)
        .toString()
        .matchAll(/event: (\w+)\ndata: (.*)\n/g)) {
        heard.push(`${m[1]}:${JSON.parse(m[2]!).id}`);
      }
    }
  })();

  // Concurrent assessments, alternating instances step by step.
  const acknowledged: string[] = [];
  const walk = async (n: number) => {
    const first = n % 2 ? a : b;
    const start = await call(first.base, 'POST', '/v1/assessments', { pathwayId: 'chest-pain', patient: { ageYears: 50, sex: 'female' } });
    acknowledged.push(start.body.traceId);
    let step = start.body;
    let turn = n;
    while (step.status === 'in_progress') {
      const via = turn++ % 2 ? b : a;
      const res = await call(
        via.base,
        'POST',
        `/v1/assessments/${start.body.id}/answers`,
        { questionId: step.question.id, value: CALLBACK_ANSWERS[step.question.id] },
        { 'x-assessment-token': start.body.token },
      );
      t.equal(res.status, 200);
      acknowledged.push(res.body.traceId);
      step = res.body;
    }
    const cb = await call(first.base, 'POST', `/v1/assessments/${start.body.id}/callback`, { name: 'Test Patient', phone: '07700 900123', consent: true }, { 'x-assessment-token': start.body.token });
    return cb.body.id as string;
  };
  const callbacks = await Promise.all(Array.from({ length: 12 }, (_, n) => walk(n)));
  t.equal(new Set(callbacks).size, 12);

  // Twenty handlers, split across the two instances, race for each request.
  for (const id of callbacks.slice(0, 4)) {
    const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => call(i % 2 ? a.base : b.base, 'POST', `/v1/callbacks/${id}/claim`, undefined, asHandler(i))));
    t.equal(claims.filter((c) => c.status === 200).length, 1, `exactly one claim of ${id.slice(0, 8)} wins`);
    t.equal(claims.filter((c) => c.status === 409).length, 19);
  }

  // Every acknowledged decision has its trace, readable from either instance; the chain holds.
  for (const [i, traceId] of acknowledged.entries()) {
    const res = await call(i % 2 ? a.base : b.base, 'GET', `/v1/traces/${traceId}`, undefined, STAFF.auditor);
    if (res.status !== 200) t.fail(`trace ${traceId} is missing`);
  }
  // Started on B, followed on A: any instance reports on a verification.
  let via = b.base;
  const verification = await followVerification((url) => {
    const res = call(via, 'GET', url, undefined, STAFF.auditor);
    via = a.base;
    return res;
  });
  t.match(verification.verdict, { ok: true, verified: acknowledged.length }, `${acknowledged.length} traces, one gap-free chain`);

  // The console on A heard about requests added and claimed through B.
  const expected = [...callbacks.map((id) => `added:${id}`), ...callbacks.slice(0, 4).map((id) => `claimed:${id}`)];
  for (const deadline = Date.now() + 5000; Date.now() < deadline && !expected.every((e) => heard.includes(e));) {
    await new Promise((r) => setTimeout(r, 20));
  }
  controller.abort();
  await listening;
  for (const id of callbacks) t.ok(heard.includes(`added:${id}`), `A heard ${id.slice(0, 8)} added`);
  for (const id of callbacks.slice(0, 4)) t.ok(heard.includes(`claimed:${id}`), `A heard ${id.slice(0, 8)} claimed`);

  // A release activated through A goes live on B within seconds; each reports what it serves.
  // Asynchronously: blocking this process for the seconds the release checks take would stop
  // fetch from retiring keep-alive sockets the servers have since closed.
  const cli = await spawnCli('triage-rules', ['release', bundledRules(t), '--summary', 'fleet', '--format', 'json'], {
    env: { ...SECURITY_ENV, DATABASE_URL: db, TRIAGE_API_KEY: STAFF.clinician['x-api-key']! },
  });
  const releaseId = JSON.parse(cli.stdout).release.id as string;
  t.equal((await call(a.base, 'POST', `/v1/admin/releases/${releaseId}/activate`, undefined, STAFF.admin)).status, 200);
  const started = Date.now();
  let onB: string | null = null;
  while (onB !== releaseId && Date.now() - started < 5000) {
    await new Promise((r) => setTimeout(r, 50));
    onB = (await call(b.base, 'GET', '/health/ready')).body.release;
  }
  t.equal(onB, releaseId, `instance B serves the release ${Date.now() - started} ms after A activated it`);
  t.equal((await call(a.base, 'GET', '/health/ready')).body.release, releaseId);
});
