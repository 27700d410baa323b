// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { asHandler, freshDatabaseUrl, get, handlerIdOf, post, rawSql, STAFF, testApp } from '../helpers.js';
import { actions, AMIR, BEA, requested, setup, URGENT } from './walks.js';

/** The callback queue's audit trail: free text sealed, reads of contact details recorded, events in order. */
t.test('free text is sealed at rest; each read of contact details is audited', async (t) => {
  const { app } = await setup(t);
  const { assessmentId, cb } = await requested(app, URGENT);
  const reason = 'Patient asked us to ring 07700 900123 instead';
  await post(app, `/v1/callbacks/${cb.id}/claim`, {}, asHandler(0));
  t.equal((await post(app, `/v1/callbacks/${cb.id}/cancel`, { reason }, asHandler(0))).status, 200);
  const stored = await app.store.read.selectFrom('callback_events').select('detail').execute();
  t.notOk(JSON.stringify(stored).includes('07700 900123'), 'the reason is not in the events table');
  if (app.store.dialect === 'sqlite') {
    for (const file of [app.store.location, `${app.store.location}-wal`].filter((f) => existsSync(f))) {
      t.notOk(readFileSync(file).includes('07700 900123'), `nor anywhere in ${path.basename(file)}`);
    }
  }

  const byBea = (await get(app, `/v1/callbacks/${cb.id}`, asHandler(1))).body;
  t.match(
    byBea.history.find((e: { action: string }) => e.action === 'cancel'),
    { detail: { reason } },
    'opened for staff who may read contact details',
  );
  t.match(byBea.history.at(-1), { action: 'contact_read', handlerId: BEA, at: String }, 'this read is itself in the history');
  const byAmir = (await get(app, `/v1/callbacks/${cb.id}`, asHandler(0))).body;
  t.same(actions(byAmir.history, true).slice(-2), [`contact_read:${BEA}`, `contact_read:${AMIR}`]);
  const audit = (await get(app, `/v1/assessments/${assessmentId}/history`, STAFF.clinician)).body.events;
  t.same(
    audit.filter((e: { summary: string }) => e.summary === 'callback contact_read').map((e: { handlerId: string }) => e.handlerId),
    [BEA, AMIR],
  );
  t.notOk(JSON.stringify(audit).includes('07700'), "the auditors' history carries no free text");
});

t.test('cancel reasons stored in clear before sealing are sealed at start-up', async (t) => {
  const url = await freshDatabaseUrl(t);
  const first = await testApp(t, { env: { DATABASE_URL: url } });
  const { assessmentId, cb } = await requested(first, URGENT);
  await rawSql(
    first,
    `insert into callback_events (id, callback_id, assessment_id, action, handler_id, at, detail, seq) values ('legacy', '${cb.id}', '${assessmentId}', 'cancel', 'someone', '2026-01-01T00:00:00.000Z', '{"reason":"ring 07700 900123"}', 99)`,
  );
  await first.close();
  const second = await testApp(t, { env: { DATABASE_URL: url } });
  const detail = (await second.store.read.selectFrom('callback_events').select('detail').where('id', '=', 'legacy').executeTakeFirstOrThrow()).detail!;
  t.notOk(detail.includes('07700'), 'sealed');
  t.match(JSON.parse(detail), { sealed: { reason: /^v1:/ } });
});

t.test('history is in the order things happened, even when a lease expiry and the next claim share an instant', async (t) => {
  const { app, clock } = await setup(t);
  const { cb } = await requested(app, URGENT);
  const expected = ['requested:-'];
  for (let round = 0; round < 16; round++) {
    const holder = round % 2;
    t.equal((await post(app, `/v1/callbacks/${cb.id}/claim`, {}, asHandler(holder))).status, 200);
    if (round > 0) expected.push(`lease_expired:${handlerIdOf(1 - holder)}`);
    expected.push(`claim:${handlerIdOf(holder)}`);
    // The next claim finds this lease expired and records both at its own instant.
    clock.advance(11 * 60);
  }
  expected.push(`lease_expired:${handlerIdOf(1)}`); // found by the read below
  const history = (await get(app, `/v1/callbacks/${cb.id}`, STAFF['call-handler'])).body.history;
  t.same(actions(history), expected);
  t.ok(
    history.some((e: { action: string; at: string }, i: number) => e.action === 'lease_expired' && history[i + 1].at === e.at),
    'the two did share a timestamp',
  );
});
