import createClient from 'openapi-fetch';
import t from 'tap';
import type { components, paths } from '../../openapi/types.js';
import { CALLBACK_ANSWERS, STAFF, testApp } from '../helpers.js';

// A client generated from openapi/openapi.json alone (openapi-typescript types, openapi-fetch
// calls) drives the patient's, the call handler's and the auditor's flows against a listening
// server: if the document and the service disagree, this does not compile or does not pass.

t.test('a generated client runs the patient, call-handler and auditor flows', async (t) => {
  const app = await testApp(t);
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  const patient = createClient<paths>({ baseUrl });
  const handler = createClient<paths>({ baseUrl, headers: STAFF['call-handler'] });
  const auditor = createClient<paths>({ baseUrl, headers: STAFF.auditor });

  // The patient: start, answer to an outcome, ask for the callback.
  const started = await patient.POST('/v1/assessments', { body: { pathwayId: 'chest-pain', patient: { ageYears: 52, sex: 'male' } } });
  if (!started.data) throw new Error(`start: ${started.response.status}`);
  const { id, token } = started.data;
  const asPatient = { params: { path: { id } }, headers: { 'x-assessment-token': token } };
  let step: components['schemas']['AssessmentStep'] | components['schemas']['AssessmentStarted'] = started.data;
  const traceIds = [step.traceId];
  while (step.status === 'in_progress') {
    const value = CALLBACK_ANSWERS[step.question.id];
    if (value === undefined) throw new Error(`no answer for ${step.question.id}`);
    const answered = await patient.POST('/v1/assessments/{id}/answers', { ...asPatient, body: { questionId: step.question.id, value } });
    if (!answered.data) throw new Error(`answer: ${answered.response.status} ${JSON.stringify(answered.error)}`);
    step = answered.data;
    traceIds.push(step.traceId);
  }
  t.equal(step.outcome.kind, 'callback');
  t.equal(step.outcome.within, 'PT1H');
  const requested = await patient.POST('/v1/assessments/{id}/callback', { ...asPatient, body: { name: 'Test Patient', phone: '07700 900123', consent: true } });
  t.equal(requested.response.status, 201);
  if (!requested.data) throw new Error('callback request refused');
  t.equal(requested.data.phone, '+447700900123');
  const resumed = await patient.GET('/v1/assessments/{id}', asPatient);
  t.equal(resumed.data?.callback?.status, 'waiting');
  const noToken = await patient.GET('/v1/assessments/{id}', { params: { path: { id } } });
  t.equal(noToken.response.status, 401, 'the token is required');
  t.equal(noToken.error?.title, 'Assessment token required');

  // The call handler: claim, a call with no answer, claim again, complete.
  const callback = { params: { path: { id: requested.data.id } } };
  const claimed = await handler.POST('/v1/callbacks/{id}/claim', callback);
  t.equal(claimed.data?.status, 'claimed');
  const attempted = await handler.POST('/v1/callbacks/{id}/attempts', callback);
  t.equal(attempted.data?.attempts, 1);
  t.equal(attempted.data?.status, 'waiting', 're-queued after a call with no answer');
  await handler.POST('/v1/callbacks/{id}/claim', callback);
  const completed = await handler.POST('/v1/callbacks/{id}/complete', { ...callback, body: { outcome: 'advice_given', notes: 'Advised to see the GP today' } });
  t.equal(completed.data?.status, 'completed');
  const detail = await handler.GET('/v1/callbacks/{id}', callback);
  t.same(
    detail.data?.history.map((e) => e.action),
    ['requested', 'claim', 'attempt', 'claim', 'complete', 'contact_read'],
  );
  t.same(detail.data?.answers[0]?.value, ['none'], 'answer values keep their type');

  // The auditor: read the decisive trace, explain it, replay it, verify the chain.
  const last = traceIds[traceIds.length - 1]!;
  const trace = await auditor.GET('/v1/traces/{id}', { params: { path: { id: last } } });
  if (!trace.data) throw new Error('trace not found');
  t.equal(trace.data.result.status, 'complete');
  t.ok(
    trace.data.evaluation.rules.some((r) => r.fired === true),
    'rule evaluations are typed',
  );
  const decidedBy = trace.data.evaluation.decidedBy;
  t.equal('ruleId' in decidedBy ? decidedBy.ruleId : null, step.outcome.ruleId);
  const explanation = await auditor.GET('/v1/traces/{id}/explanation', { params: { path: { id: last } } });
  t.match(explanation.data?.summary, /^Clinician callback/);
  const replayed = await auditor.POST('/v1/traces/{id}/replay', { params: { path: { id: last } } });
  t.equal(replayed.data?.identical, true);
  t.same(replayed.data?.replayed, replayed.data?.original);
  const verifying = await auditor.GET('/v1/traces/verify', {});
  t.equal(verifying.response.status, 202);
  const location = verifying.response.headers.get('location');
  const verificationId = location?.split('/').pop();
  if (!verificationId) throw new Error('no Location');
  let verification = verifying.data;
  while (verification?.state === 'running') {
    await new Promise((resolve) => setTimeout(resolve, 20));
    verification = (await auditor.GET('/v1/trace-verifications/{id}', { params: { path: { id: verificationId } } })).data;
  }
  t.match(verification, { state: 'done', verdict: { ok: true } });
  t.ok((verification?.verdict?.verified ?? 0) >= traceIds.length);
});
