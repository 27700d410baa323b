// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import t from 'tap';
import { seedTraces } from '../../bench/cases.js';
import { BASIC_RULES, get, post, STAFF, testApp } from '../helpers.js';

const adult = { ageYears: 30, sex: 'female' as const };
const SEEDED = 20_000;

/**
 * A verification of a large chain runs off the request thread: while it runs, the service
 * answers liveness probes and patients, and the verification reports its progress. (Before,
 * the route walked the whole chain on the event loop and answered only at the end.)
 */
t.test('liveness probes and patients are answered while a large verification runs', async (t) => {
  const app = await testApp(t, { rulesDir: BASIC_RULES });
  const version = app.triage.pathways()[0]!;
  const decision = await app.triage.decide(version, adult, []);
  await seedTraces(app.store, { version, assessmentId: null, step: null, patient: adult, answers: [], decision, startedAt: Date.now(), durationMs: 1 }, SEEDED);

  const started = await get(app, '/v1/traces/verify', STAFF.clinician);
  t.equal(started.status, 202, 'answered at once, with the verification to follow');
  t.match(started.body, { state: 'running', range: { from: 1, to: SEEDED } });
  let probes = 0;
  let decisions = 0;
  const progress = new Set<number>();
  let verification;
  for (;;) {
    const [live, triage] = await Promise.all([get(app, '/health/live'), post(app, '/v1/triage', { pathwayId: version.id, patient: adult, answers: {} })]);
    verification = (await get(app, String(started.headers.location), STAFF.clinician)).body;
    if (verification.state !== 'running') break;
    // Answered, and the verification still running after: it did not hold the thread.
    if (live.status === 200) probes += 1;
    if (triage.status === 200) decisions += 1;
    progress.add(verification.progress.verified);
  }
  t.ok(probes >= 3, `${probes} liveness probes answered while it ran`);
  t.ok(decisions >= 3, `${decisions} patients' decisions made (and traced) while it ran`);
  t.ok(
    [...progress].some((n) => n > 0 && n < SEEDED),
    `progress reported part-way (${[...progress].join(', ')})`,
  );
  t.match(verification, { state: 'done', progress: { verified: SEEDED }, verdict: { ok: true, verified: SEEDED, lastSeq: SEEDED } }, 'the chain as it stood when asked');
});
