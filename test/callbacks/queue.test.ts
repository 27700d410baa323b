// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import t from 'tap';
import { asHandler, get, STAFF, post } from '../helpers.js';
import { actions, AMIR, assessment, BEA, contact, ESCALATE, patient, ROUTINE, setup, URGENT } from './walks.js';

t.test('a callback request: E.164 phone, due at decision time plus the window, idempotent', async (t) => {
  const { app } = await setup(t);
  const id = await assessment(app, URGENT);
  const decidedAt = Date.parse((await get(app, `/v1/assessments/${id}`)).body.updatedAt);
  const first = await post(app, `/v1/assessments/${id}/callback`, contact);
  t.equal(first.status, 201);
  t.match(first.body, { status: 'waiting', within: 'PT1H', phone: '+447700900123' });
  t.equal(Date.parse(first.body.dueAt), decidedAt + 3600_000);
  const again = await post(app, `/v1/assessments/${id}/callback`, { ...contact, phone: '+44 7700 900123' });
  t.equal(again.status, 200, 'a repeat is not a second request');
  t.equal(again.body.id, first.body.id);
  const concurrent = await Promise.all(Array.from({ length: 10 }, () => post(app, `/v1/assessments/${id}/callback`, contact)));
  t.ok(concurrent.every((r) => r.status === 200 && r.body.id === first.body.id));
  t.equal((await get(app, '/v1/callbacks', STAFF['call-handler'])).body.items.length, 1);
});

t.test('only a callback outcome can have one; bad contact details are 422', async (t) => {
  const { app } = await setup(t);
  const escalated = await assessment(app, ESCALATE);
  const res = await post(app, `/v1/assessments/${escalated}/callback`, contact);
  t.equal(res.status, 409);
  t.match(res.body.detail, /its outcome is escalate/);
  const started = (await post(app, '/v1/assessments', { pathwayId: 'chest-pain', patient })).body.id;
  t.match((await post(app, `/v1/assessments/${started}/callback`, contact)).body, { status: 409, detail: /not complete/ });
  const id = await assessment(app, URGENT);
  const phone = await post(app, `/v1/assessments/${id}/callback`, { ...contact, phone: '12345' });
  t.match(phone.body, { status: 422, errors: [{ path: ['body', 'phone'] }] });
  t.match((await post(app, `/v1/assessments/${id}/callback`, { ...contact, phone: '+1 212 555 0100' })).body, { status: 422 }, 'not a UK number');
  t.match((await post(app, `/v1/assessments/${id}/callback`, { ...contact, consent: false })).body, { status: 422, errors: [{ path: ['body', 'consent'] }] });
  t.equal((await post(app, `/v1/assessments/${id}/callback`, { name: 'x' })).status, 400);
  t.equal((await post(app, '/v1/assessments/nope/callback', contact)).status, 401, 'no assessment token');
  t.equal((await post(app, `/v1/assessments/${id}/callback`, contact, { 'x-assessment-token': 'wrong' })).status, 404, 'a wrong token looks like an unknown id');
  t.equal((await get(app, '/v1/callbacks', STAFF['call-handler'])).body.items.length, 0, 'nothing stored by refused requests');
});

t.test('the queue: a 1-hour request made after a 6-hour one comes first; overdue is flagged', async (t) => {
  const { app, clock } = await setup(t);
  const routine = await assessment(app, ROUTINE);
  const routineCb = (await post(app, `/v1/assessments/${routine}/callback`, contact)).body;
  t.equal(routineCb.within, 'PT6H');
  const urgent = await assessment(app, URGENT);
  const urgentCb = (await post(app, `/v1/assessments/${urgent}/callback`, contact)).body;
  let queue = (await get(app, '/v1/callbacks', STAFF['call-handler'])).body.items;
  t.same(
    queue.map((i: { id: string }) => i.id),
    [urgentCb.id, routineCb.id],
  );
  t.ok(queue[0].timeLeftSeconds > 3500 && queue[0].timeLeftSeconds <= 3600);
  t.same((await get(app, '/v1/callbacks?overdue=true', STAFF['call-handler'])).body.items, []);

  clock.advance(2 * 3600);
  queue = (await get(app, '/v1/callbacks', STAFF['call-handler'])).body.items;
  t.ok(queue[0].overdueBySeconds >= 3600, 'the 1-hour request is an hour overdue');
  t.notOk('timeLeftSeconds' in queue[0]);
  t.same(
    (await get(app, '/v1/callbacks?overdue=true', STAFF['call-handler'])).body.items.map((i: { id: string }) => i.id),
    [urgentCb.id],
  );
  const stats = (await get(app, '/v1/callbacks/stats', STAFF['call-handler'])).body;
  t.match(stats, { waiting: 2, claimed: 0, byWindow: { PT1H: 1, PT6H: 1 }, overdue: 1, oldestWaiting: { id: routineCb.id } });

  const page1 = (await get(app, '/v1/callbacks?limit=1', STAFF['call-handler'])).body;
  const page2 = (await get(app, `/v1/callbacks?limit=1&cursor=${page1.nextCursor}`, STAFF['call-handler'])).body;
  t.same([page1.items[0].id, page2.items[0].id], [urgentCb.id, routineCb.id]);
  t.equal(page2.nextCursor, null);
  t.equal((await get(app, '/v1/callbacks?cursor=nonsense', STAFF['call-handler'])).status, 400);
});

t.test('waiting and claimed requests share one queue in due order, page by page', async (t) => {
  const { app } = await setup(t);
  const request = async (answers: Record<string, unknown>) => (await post(app, `/v1/assessments/${await assessment(app, answers)}/callback`, contact)).body.id as string;
  const first = await request(URGENT);
  const routine = await request(ROUTINE);
  const second = await request(URGENT);
  t.equal((await post(app, `/v1/callbacks/${second}/claim`, {}, asHandler(0))).status, 200);
  const ids = (path: string) => get(app, path, STAFF['call-handler']).then((r) => r.body.items.map((i: { id: string }) => i.id));
  t.same(await ids('/v1/callbacks'), [first, second, routine], 'the claimed request keeps its place');
  t.same(await ids('/v1/callbacks?status=claimed'), [second]);
  t.same(await ids('/v1/callbacks?status=waiting'), [first, routine]);
  const walked: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: { id: string; status: string }[]; nextCursor: string | null } = (await get(app, `/v1/callbacks?limit=1${cursor ? `&cursor=${cursor}` : ''}`, STAFF['call-handler'])).body;
    walked.push(...page.items.map((i) => `${i.id}:${i.status}`));
    cursor = page.nextCursor;
  } while (cursor);
  t.same(walked, [`${first}:waiting`, `${second}:claimed`, `${routine}:waiting`], 'one request a page, across both statuses');
});

t.test('20 concurrent claims: exactly one wins; the others hear who holds it and until when', async (t) => {
  const { app } = await setup(t);
  const cb = (await post(app, `/v1/assessments/${await assessment(app, URGENT)}/callback`, contact)).body;
  const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => post(app, `/v1/callbacks/${cb.id}/claim`, {}, asHandler(i))));
  const won = claims.filter((c) => c.status === 200);
  t.equal(won.length, 1);
  const winner = won[0]!.body.claimedBy as string;
  const lost = claims.filter((c) => c.status === 409);
  t.equal(lost.length, 19);
  t.ok(lost.every((c) => c.body.detail.includes(`claimed by ${winner} until ${won[0]!.body.leaseUntil}`)));
});

t.test('a lease that is neither renewed nor completed returns the request to the queue', async (t) => {
  const { app, clock } = await setup(t);
  const cb = (await post(app, `/v1/assessments/${await assessment(app, URGENT)}/callback`, contact)).body;
  t.equal((await post(app, `/v1/callbacks/${cb.id}/claim`, {}, asHandler(0))).status, 200);
  t.equal((await post(app, `/v1/callbacks/${cb.id}/claim`, {}, asHandler(1))).status, 409);
  clock.advance(9 * 60);
  t.equal((await post(app, `/v1/callbacks/${cb.id}/renew`, {}, asHandler(0))).status, 200, 'renewed before expiry');
  clock.advance(9 * 60);
  t.equal((await get(app, `/v1/callbacks/${cb.id}`, STAFF['call-handler'])).body.status, 'claimed', 'the renewal holds');
  clock.advance(2 * 60);
  t.equal((await get(app, `/v1/callbacks/${cb.id}`, STAFF['call-handler'])).body.status, 'waiting', 'back in the queue after the lease');
  t.equal((await post(app, `/v1/callbacks/${cb.id}/complete`, { outcome: 'advice_given' }, asHandler(0))).status, 409, 'the lapsed holder cannot complete');
  t.equal((await post(app, `/v1/callbacks/${cb.id}/claim`, {}, asHandler(1))).status, 200, 'someone else can claim it');
  t.same(actions((await get(app, `/v1/callbacks/${cb.id}`, STAFF['call-handler'])).body.history), ['requested:-', `claim:${AMIR}`, `renew:${AMIR}`, `lease_expired:${AMIR}`, `claim:${BEA}`]);
});

t.test('no answer three times: flagged for clinical review, still in the queue', async (t) => {
  const { app } = await setup(t);
  const cb = (await post(app, `/v1/assessments/${await assessment(app, URGENT)}/callback`, contact)).body;
  for (let i = 1; i <= 3; i++) {
    t.equal((await post(app, `/v1/callbacks/${cb.id}/claim`, {}, asHandler(0))).status, 200);
    const attempt = await post(app, `/v1/callbacks/${cb.id}/attempts`, {}, asHandler(0));
    t.match(attempt.body, { status: 'waiting', attempts: i, needsReview: i >= 3, claimedBy: null });
  }
  t.match((await get(app, '/v1/callbacks', STAFF['call-handler'])).body.items, [{ id: cb.id, needsReview: true, attempts: 3 }]);
  t.equal((await post(app, `/v1/callbacks/${cb.id}/attempts`, {}, asHandler(0))).status, 409, 'an attempt needs a claim');
});

t.test('an attempt may carry notes: sealed in the event, shown only with the contact details', async (t) => {
  const { app, log } = await setup(t);
  const assessmentId = await assessment(app, URGENT);
  const cb = (await post(app, `/v1/assessments/${assessmentId}/callback`, contact)).body;
  await post(app, `/v1/callbacks/${cb.id}/claim`, {}, asHandler(0));
  t.equal((await post(app, `/v1/callbacks/${cb.id}/attempts`, { notes: 'x'.repeat(2001) }, asHandler(0))).status, 400, 'notes have a length limit');
  t.equal((await post(app, `/v1/callbacks/${cb.id}/attempts`, { notes: 'Voicemail full at Riverside' }, asHandler(0))).status, 200);
  const history = (await get(app, `/v1/callbacks/${cb.id}`, STAFF['call-handler'])).body.history as { action: string; detail: unknown }[];
  t.match(
    history.find((e) => e.action === 'attempt'),
    { detail: { notes: 'Voicemail full at Riverside' } },
  );
  const audit = JSON.stringify((await get(app, `/v1/assessments/${assessmentId}/history`, STAFF.clinician)).body);
  t.notOk(audit.includes('Riverside'), "the auditors' history carries the action, never the notes");
  t.notOk(log.text().includes('Riverside'), 'nor do the logs');
});

t.test('the queue says who the request is about (topic, age band, sex) and the detail the advice shown', async (t) => {
  const { app } = await setup(t);
  const cb = (await post(app, `/v1/assessments/${await assessment(app, URGENT, { ageYears: 70, sex: 'female' })}/callback`, contact)).body;
  const [item] = (await get(app, '/v1/callbacks', STAFF['call-handler'])).body.items;
  t.match(item, { id: cb.id, topic: 'Chest pain', ageBand: 'adult', sex: 'female' });
  t.notOk('ageYears' in item, 'never the exact age');
  t.match((await post(app, `/v1/callbacks/${cb.id}/claim`, {}, asHandler(0))).body, { topic: 'Chest pain', ageBand: 'adult', sex: 'female' }, 'action replies too');
  const detail = (await get(app, `/v1/callbacks/${cb.id}`, STAFF['call-handler'])).body;
  t.match(detail.advice, { title: 'A nurse or doctor will call you within 1 hour', advice: String, safetyNetting: /Call 999/ });
});

t.test('completion with an outcome and notes; every action audited; contact details never logged', async (t) => {
  const { app, log } = await setup(t);
  const assessmentId = await assessment(app, URGENT);
  const cb = (await post(app, `/v1/assessments/${assessmentId}/callback`, contact)).body;
  t.equal((await post(app, `/v1/callbacks/${cb.id}/release`, {}, asHandler(0))).status, 409, 'nothing to release');
  await post(app, `/v1/callbacks/${cb.id}/claim`, {}, asHandler(0));
  t.equal((await post(app, `/v1/callbacks/${cb.id}/release`, {}, asHandler(1))).status, 409, 'only the holder may release');
  t.equal((await post(app, `/v1/callbacks/${cb.id}/release`, {}, asHandler(0))).status, 200);
  await post(app, `/v1/callbacks/${cb.id}/claim`, {}, asHandler(1));
  t.equal((await post(app, `/v1/callbacks/${cb.id}/complete`, { outcome: 'made_up' }, asHandler(1))).status, 400, 'outcomes come from the fixed list');
  const done = await post(app, `/v1/callbacks/${cb.id}/complete`, { outcome: 'booked_gp_or_urgent_care', notes: 'Booked at Riverside surgery 16:40' }, asHandler(1));
  t.match(done.body, { status: 'completed' });
  t.notOk('timeLeftSeconds' in done.body || 'overdueBySeconds' in done.body, 'no clock on closed requests');
  t.equal((await post(app, `/v1/callbacks/${cb.id}/cancel`, { reason: 'late' }, asHandler(1))).status, 409, 'a completed request cannot be cancelled');

  const detail = (await get(app, `/v1/callbacks/${cb.id}`, STAFF['call-handler'])).body;
  t.match(detail, { name: 'Ada Lovelace', phone: '+447700900123', completion: { outcome: 'booked_gp_or_urgent_care', notes: 'Booked at Riverside surgery 16:40' } });
  t.match(detail.answers[0], { question: { id: 'emergency_signs', text: String }, value: ['none'] });
  t.match(detail.explanation.summary, /^Clinician callback: .* because rule cp-recent-pain/);
  t.same(actions(detail.history), ['requested:-', `claim:${AMIR}`, `release:${AMIR}`, `claim:${BEA}`, `complete:${BEA}`]);
  t.notOk(JSON.stringify(detail.history).includes('Riverside'), 'notes stay out of the audit events');
  const history = (await get(app, `/v1/assessments/${assessmentId}/history`, STAFF.clinician)).body.events as { kind: string; summary: string; handlerId?: string }[];
  t.match(history[0], { kind: 'decision', summary: 'step 0: asked emergency_signs' });
  t.same(
    history.filter((e) => e.kind === 'callback' && e.summary !== 'callback contact_read').map((e) => `${e.summary}:${e.handlerId ?? '-'}`),
    ['callback requested:-', `callback claim:${AMIR}`, `callback release:${AMIR}`, `callback claim:${BEA}`, `callback complete:${BEA}`],
    "every handler action is in the assessment's audit history",
  );
  t.same((await get(app, '/v1/callbacks', STAFF['call-handler'])).body.items, [], 'completed requests leave the queue');
  t.equal((await get(app, '/v1/callbacks?status=completed', STAFF['call-handler'])).body.items.length, 1);

  const other = (await post(app, `/v1/assessments/${await assessment(app, URGENT)}/callback`, contact)).body;
  await post(app, `/v1/callbacks/${other.id}/claim`, {}, asHandler(1));
  t.match((await post(app, `/v1/callbacks/${other.id}/cancel`, { reason: 'patient called 999' }, asHandler(1))).body, { status: 'cancelled' });
  t.equal((await get(app, '/v1/callbacks/nope', STAFF['call-handler'])).status, 404);

  const text = log.text();
  for (const secret of ['Ada Lovelace', '7700900123', '7700 900123', 'Riverside']) {
    t.notOk(text.includes(secret), `${secret} is not in the logs`);
  }
});

t.test('server-sent events tell consoles about changes as they happen', async (t) => {
  const { app } = await setup(t);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const assessmentId = await assessment(app, URGENT);
  const controller = new AbortController();
  const res = await fetch(`${address}/v1/callbacks/events`, { signal: controller.signal, headers: STAFF['call-handler'] });
  t.match(res.headers.get('content-type'), /text\/event-stream/);
  const reader = res.body!.getReader();
  const received: string[] = [];
  const reading = (async () => {
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += Buffer.from(value!).toString();
      for (const m of buffer.matchAll(/event: (\w+)\n/g)) received.push(m[1]!);
      buffer = buffer.slice(buffer.lastIndexOf('\n\n') + 2);
      if (received.length >= 3) return;
    }
  })();
  const cb = (await post(app, `/v1/assessments/${assessmentId}/callback`, contact)).body;
  await post(app, `/v1/callbacks/${cb.id}/claim`, {}, asHandler(0));
  await post(app, `/v1/callbacks/${cb.id}/complete`, { outcome: 'advice_given' }, asHandler(0));
  await reading;
  t.same(received, ['added', 'claimed', 'completed']);
  controller.abort();
  await app.close();
});

t.test('cancel needs the claim; a clinician or admin may override, recorded as an override', async (t) => {
  const { app } = await setup(t);
  const clinician = (await get(app, '/v1/callbacks/me', STAFF.clinician)).body.id as string;
  const cb = (await post(app, `/v1/assessments/${await assessment(app, URGENT)}/callback`, contact)).body;
  t.equal((await post(app, `/v1/callbacks/${cb.id}/cancel`, { reason: 'duplicate' }, asHandler(0))).status, 409, 'not without a claim');
  await post(app, `/v1/callbacks/${cb.id}/claim`, {}, asHandler(0));
  t.match((await post(app, `/v1/callbacks/${cb.id}/cancel`, { reason: 'duplicate' }, asHandler(1))).body, { status: 409, title: 'Claimed by someone else' });
  t.match((await post(app, `/v1/callbacks/${cb.id}/cancel`, { reason: 'duplicate' }, STAFF.clinician)).body, { status: 409, title: 'Claimed by someone else' }, 'a clinician too, without the override');
  t.match((await post(app, `/v1/callbacks/${cb.id}/cancel`, { reason: 'duplicate', override: true }, asHandler(1))).body, { status: 403 }, 'a call handler cannot override');
  t.equal((await get(app, `/v1/callbacks/${cb.id}`, STAFF['call-handler'])).body.status, 'claimed', 'the holder still holds it');
  const overridden = await post(app, `/v1/callbacks/${cb.id}/cancel`, { reason: 'duplicate', override: true }, STAFF.clinician);
  t.match(overridden.body, { status: 'cancelled' });
  t.match((await post(app, `/v1/callbacks/${cb.id}/complete`, { outcome: 'advice_given' }, asHandler(0))).body, { status: 409, title: 'Callback closed' });
  const history = (await get(app, `/v1/callbacks/${cb.id}`, STAFF['call-handler'])).body.history;
  t.same(actions(history), ['requested:-', `claim:${AMIR}`, `cancel_override:${clinician}`]);
  t.match(
    history.find((e: { action: string }) => e.action === 'cancel_override'),
    { detail: { heldBy: AMIR, reason: 'duplicate' } },
  );

  const mine = (await post(app, `/v1/assessments/${await assessment(app, URGENT)}/callback`, contact)).body;
  await post(app, `/v1/callbacks/${mine.id}/claim`, {}, asHandler(1));
  t.match((await post(app, `/v1/callbacks/${mine.id}/cancel`, { reason: 'called 999 themselves' }, asHandler(1))).body, { status: 'cancelled', claimedBy: null });
  t.same(actions((await get(app, `/v1/callbacks/${mine.id}`, STAFF['call-handler'])).body.history), ['requested:-', `claim:${BEA}`, `cancel:${BEA}`]);
});
