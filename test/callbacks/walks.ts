import type { Test } from 'tap';
import type { QueueChange } from '../../src/callbacks/service.js';
import { get, handlerIdOf, logCapture, post, STAFF, testApp, type TestApp } from '../helpers.js';

/** Chest-pain walks and a test app with a movable clock, for the callback queue's suites. */

/** A clock the tests move forward, so due times and leases can pass without waiting. */
function clock() {
  let offsetMs = 0;
  return { now: () => new Date(Date.now() + offsetMs), advance: (seconds: number) => (offsetMs += seconds * 1000) };
}

export const patient = { ageYears: 52, sex: 'male' };
const none = ['none'];
// Chest pain walks ending in a 1-hour and a 6-hour callback, and one in a 999 escalation.
export const URGENT = { emergency_signs: none, pain_now: false, pain_feel: 'burning', pain_spreads: none, associated: none, coughing_blood: false, injury: false, started: 'within_12h' };
export const ROUTINE = { ...URGENT, pain_feel: 'aching_tender', worse_on_pressing: false, started: 'over_72h' };
export const ESCALATE = { emergency_signs: none, pain_now: true, pain_feel: 'crushing_heavy_tight' };
// A 1-hour callback for a 29-year-old's muscle-like pain, which is self-care once it is worse on pressing.
export const YOUNG = { ...URGENT, pain_feel: 'aching_tender', worse_on_pressing: false };
export const youngPatient = { ageYears: 29, sex: 'male' };

export async function assessment(app: TestApp, answers: Record<string, unknown>, who = patient): Promise<string> {
  const start = await post(app, '/v1/assessments', { pathwayId: 'chest-pain', patient: who });
  const id = start.body.id as string;
  let step = start.body;
  while (step.status === 'in_progress') {
    const questionId = step.question.id as string;
    step = (await post(app, `/v1/assessments/${id}/answers`, { questionId, value: answers[questionId] })).body;
  }
  return id;
}

export const AMIR = handlerIdOf(0);
export const BEA = handlerIdOf(1);

export const contact = { name: 'Ada Lovelace', phone: '07700 900123', consent: true };

/** An assessment walked to its outcome, and the callback asked for on it. */
export async function requested(app: TestApp, answers: Record<string, unknown>, who = patient) {
  const assessmentId = await assessment(app, answers, who);
  const cb = (await post(app, `/v1/assessments/${assessmentId}/callback`, contact)).body;
  return { assessmentId, cb };
}

/** A request's history as action:handler, leaving out the (audited) reads of its contact details. */
export const actions = (history: { action: string; handlerId: string | null }[], keepReads = false): string[] =>
  history.filter((e) => keepReads || e.action !== 'contact_read').map((e) => `${e.action}:${e.handlerId ?? '-'}`);

export async function setup(t: Test, rulesDir?: string) {
  const c = clock();
  const log = logCapture();
  const app = await testApp(t, { now: c.now, logStream: log.stream, ...(rulesDir ? { rulesDir } : {}) });
  return { app, clock: c, log };
}

/** Every queue change the consoles hear (the same emitter the event stream sends from). */
export function heard(app: TestApp): QueueChange[] {
  const changes: QueueChange[] = [];
  app.callbacks.changes.on('change', (c: QueueChange) => changes.push(c));
  return changes;
}

export const queueIds = async (app: TestApp): Promise<string[]> => (await get(app, '/v1/callbacks', STAFF['call-handler'])).body.items.map((i: { id: string }) => i.id);
