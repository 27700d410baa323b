// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import t from 'tap';
import { get, post, STAFF } from '../helpers.js';
import { assessment, contact, heard, queueIds, requested, ROUTINE, setup, URGENT, YOUNG, youngPatient } from './walks.js';

/**
 * A callback request follows the patient's later answers (Back, then a new answer): never less
 * urgent than the most urgent decision since asking; the handler sees what changed.
 */
t.test('answers changed after asking: a more urgent callback moves the request earlier and up the queue', async (t) => {
  const { app } = await setup(t);
  const changes = heard(app);
  const earlier = await requested(app, ROUTINE);
  const later = await requested(app, ROUTINE);
  t.same(await queueIds(app), [earlier.cb.id, later.cb.id]);

  const step = await post(app, `/v1/assessments/${later.assessmentId}/answers`, { questionId: 'started', value: 'within_12h' });
  t.match(step.body, { status: 'complete', outcome: { kind: 'callback', within: 'PT1H' }, callback: { id: later.cb.id, within: 'PT1H', answersChanged: true } });
  t.ok(Date.parse(step.body.callback.dueAt) <= Date.now() + 3600_000, 'due within the hour the new answers earned');
  t.ok(step.body.callback.dueAt < later.cb.dueAt, 'the due time moved earlier');
  t.same(await queueIds(app), [later.cb.id, earlier.cb.id], 'and its place in the queue');

  const again = await post(app, `/v1/assessments/${later.assessmentId}/callback`, contact);
  t.match(again.body, { id: later.cb.id, within: 'PT1H', dueAt: step.body.callback.dueAt }, 'a repeat request returns the request as it is now');
  const detail = (await get(app, `/v1/callbacks/${later.cb.id}`, STAFF['call-handler'])).body;
  t.match(detail, {
    within: 'PT1H',
    disposition: 'CB-URGENT',
    answersChanged: true,
    sinceRequest: { whenAsked: { kind: 'callback', disposition: 'CB-ROUTINE', within: 'PT6H' }, latest: { kind: 'callback', disposition: 'CB-URGENT', within: 'PT1H' }, stillAnswering: false },
  });
  t.match(
    detail.history.find((e: { action: string }) => e.action === 'urgency_raised'),
    { handlerId: null, detail: { from: { within: 'PT6H' }, to: { within: 'PT1H' } } },
  );
  t.match(changes, [{ type: 'added' }, { type: 'added' }, { type: 'urgency_raised', id: later.cb.id, status: 'waiting' }]);
});

t.test('answers changed towards less urgency: the request keeps its urgency and the handler sees both decisions', async (t) => {
  const { app } = await setup(t);
  const { assessmentId, cb } = await requested(app, YOUNG, youngPatient);
  t.equal(cb.within, 'PT1H');
  const step = await post(app, `/v1/assessments/${assessmentId}/answers`, { questionId: 'worse_on_pressing', value: true });
  t.match(step.body, { outcome: { kind: 'self_care' }, callback: { within: 'PT1H', dueAt: cb.dueAt, answersChanged: true } }, 'the patient still hears when the call is due');
  t.notOk('actNow' in step.body.callback);
  const again = await post(app, `/v1/assessments/${assessmentId}/callback`, contact);
  t.equal(again.status, 200, 'a repeat request finds the request, not a refusal for a self-care outcome');
  t.match(again.body, { id: cb.id, within: 'PT1H', dueAt: cb.dueAt });
  const detail = (await get(app, `/v1/callbacks/${cb.id}`, STAFF['call-handler'])).body;
  t.match(detail, {
    status: 'waiting',
    within: 'PT1H',
    dueAt: cb.dueAt,
    needsReview: false,
    answersChanged: true,
    sinceRequest: { whenAsked: { kind: 'callback', within: 'PT1H' }, latest: { kind: 'self_care', disposition: 'SC-MUSCLE-STRAIN', within: null } },
  });
  t.match(
    detail.answers.find((a: { question: { id: string } }) => a.question.id === 'worse_on_pressing'),
    { value: true },
    'beside the new answers',
  );
  t.match(
    detail.history.find((e: { action: string }) => e.action === 'answers_changed'),
    { detail: { kept: { within: 'PT1H' }, latest: { kind: 'self_care' } } },
  );
  t.same(await queueIds(app), [cb.id], 'still in the queue');
});

t.test('an escalation after asking: flagged for clinical review at the top of the queue; the patient is told what to do now', async (t) => {
  const { app } = await setup(t);
  const changes = heard(app);
  const urgent = await requested(app, URGENT);
  const { assessmentId, cb } = await requested(app, ROUTINE);
  t.same(await queueIds(app), [urgent.cb.id, cb.id]);

  const step = await post(app, `/v1/assessments/${assessmentId}/answers`, { questionId: 'coughing_blood', value: true });
  t.match(step.body, { outcome: { kind: 'escalate', title: 'Go to A&E now' }, callback: { id: cb.id, actNow: { title: 'Go to A&E now', advice: /^Go to A&E now/ } } });
  const queue = (await get(app, '/v1/callbacks', STAFF['call-handler'])).body.items;
  t.same(
    queue.map((i: { id: string }) => i.id),
    [cb.id, urgent.cb.id],
    'above a request due sooner',
  );
  t.match(queue[0], { needsReview: true, reviewReason: 'escalated', disposition: 'ED-AE' });
  const page1 = (await get(app, '/v1/callbacks?limit=1', STAFF['call-handler'])).body;
  t.same(
    (await get(app, `/v1/callbacks?limit=1&cursor=${page1.nextCursor}`, STAFF['call-handler'])).body.items.map((i: { id: string }) => i.id),
    [urgent.cb.id],
    'pages keep that order',
  );
  t.match((await post(app, `/v1/assessments/${assessmentId}/callback`, contact)).body, { id: cb.id, actNow: { title: 'Go to A&E now' } });
  t.match((await get(app, `/v1/assessments/${assessmentId}`)).body, { outcome: { kind: 'escalate' }, callback: { id: cb.id, actNow: { title: 'Go to A&E now' } } });
  t.match(changes.at(-1), { type: 'escalated', id: cb.id });

  // Answering back to a callback does not take the escalation away.
  const back = await post(app, `/v1/assessments/${assessmentId}/answers`, { questionId: 'coughing_blood', value: false });
  t.match(back.body, { outcome: { kind: 'callback', within: 'PT6H' }, callback: { within: 'PT1H' } });
  t.notOk('actNow' in back.body.callback);
  t.match((await get(app, '/v1/callbacks', STAFF['call-handler'])).body.items[0], { id: cb.id, needsReview: true, reviewReason: 'escalated', within: 'PT1H' });
  t.match((await get(app, `/v1/callbacks/${cb.id}`, STAFF['call-handler'])).body.sinceRequest, { whenAsked: { within: 'PT6H' }, latest: { kind: 'callback', within: 'PT6H' } });
});

t.test('a callback asked for while the answers change: the request never misses the new decision', async (t) => {
  const { app } = await setup(t);
  const ids = await Promise.all(Array.from({ length: 6 }, () => assessment(app, ROUTINE)));
  await Promise.all(ids.map((id) => Promise.all([post(app, `/v1/assessments/${id}/callback`, contact), post(app, `/v1/assessments/${id}/answers`, { questionId: 'coughing_blood', value: true })])));
  for (const id of ids) {
    const { callback } = (await get(app, `/v1/assessments/${id}`)).body;
    if (callback) t.match(callback, { actNow: { title: 'Go to A&E now' } }, 'a request that exists followed the escalation');
  }
  for (const item of (await get(app, '/v1/callbacks', STAFF['call-handler'])).body.items) {
    t.match(item, { reviewReason: 'escalated' });
  }
});
