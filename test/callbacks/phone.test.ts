import t from 'tap';
import { callbackAssessment, get, post, STAFF, testApp, type TestApp } from '../helpers.js';

/**
 * The number a patient gives for their callback: one a handler can ring directly, at no cost to
 * the patient or the service. Ofcom's drama numbers are the examples everywhere, so development
 * and tests accept them; production, where nobody could answer them, refuses them.
 */
const ask = (app: TestApp, id: string, phone: string) => post(app, `/v1/assessments/${id}/callback`, { name: 'Test Patient', phone, consent: true });

const REFUSED: [string, RegExp][] = [
  ['09012 345678', /premium-rate and shared-cost numbers \(09, 084, 087\) cannot be called back/],
  ['0845 123 4567', /premium-rate and shared-cost numbers \(09, 084, 087\)/],
  ['0871 123 4567', /premium-rate and shared-cost numbers \(09, 084, 087\)/],
  ['070 1234 5678', /personal numbers \(070\) forward calls at the caller's cost/],
  ['07700 900123 ext 12', /without an extension/],
  ['07700 900123 x12', /without an extension/],
  ['+44 20 7946 0123#4', /without an extension/],
  ['12345', /enter a UK mobile or landline number, like 07700 900123 or 020 7946 0123/],
];

t.test('outside production, Ofcom drama numbers are accepted, normalised to E.164', async (t) => {
  const app = await testApp(t);
  for (const [phone, e164] of [
    ['07700 900000', '+447700900000'],
    ['+44 1632 960999', '+441632960999'],
    ['020 7946 0123', '+442079460123'],
  ] as const) {
    const res = await ask(app, await callbackAssessment(app), phone);
    t.equal(res.status, 201, phone);
    t.equal(res.body.phone, e164);
  }
  t.equal((await ask(app, await callbackAssessment(app), '07700 901000')).status, 422, 'just outside a drama range');
});

t.test('premium-rate, shared-cost and personal numbers, and extensions, are a clear 422', async (t) => {
  const app = await testApp(t);
  const id = await callbackAssessment(app);
  for (const [phone, message] of REFUSED) {
    const res = await ask(app, id, phone);
    t.equal(res.status, 422, phone);
    t.match(res.body, { title: 'Invalid contact details', detail: message, errors: [{ path: ['body', 'phone'], message }] }, phone);
  }
  t.equal((await get(app, '/v1/callbacks', STAFF['call-handler'])).body.items.length, 0, 'nothing was stored');
});

t.test('production refuses drama numbers, saying why', async (t) => {
  const app = await testApp(t, { env: { NODE_ENV: 'production' } });
  const id = await callbackAssessment(app);
  for (const [phone, shown] of [
    ['07700 900123', '07700 900123'],
    ['01632 960123', '01632 960123'],
    ['+442079460123', '020 7946 0123'],
  ] as const) {
    const res = await ask(app, id, phone);
    t.match(res.body, { status: 422, detail: `${shown} is reserved for drama and examples: enter your own mobile or landline number` }, phone);
  }
  for (const [phone, message] of REFUSED) {
    t.match((await ask(app, id, phone)).body, { status: 422, detail: message }, `${phone} is refused in production too`);
  }
  // The one number here outside the drama ranges: production must still take real numbers. It is
  // never dialled; the test only parses it.
  const real = await ask(app, id, '07911 123456');
  t.equal(real.status, 201, 'a real mobile number is accepted');
  t.equal(real.body.phone, '+447911123456');
});
