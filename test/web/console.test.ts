import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Page } from 'playwright-core';
import t from 'tap';
import { asHandler, bundledRules, get, HANDLER_KEYS, handlerIdOf, post, STAFF, tempDir, testApp } from '../helpers.js';
import { contact, patient, requested, URGENT } from '../callbacks/walks.js';
import { axeAtWidths, focused, launch, openPage, SHOTS, tabTo } from './browser.js';

/**
 * The call-handler console in Chromium: the queue in plain words with time left counting down
 * and turning overdue live, filters and the completed view, a keyboard-only claim to completion
 * with focus kept on the row, messages that stay, attempt notes, cancelling with a reason, and
 * the display name from a sign-in token. Queue and details are checked by axe at 390 and 1280 px.
 */
// The service's clock, moved forward to make a request overdue without waiting an hour.
let offsetMs = 0;
const { publicKey, privateKey } = await generateKeyPair('ES256');
const jwks = path.join(tempDir(t), 'jwks.json');
writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'idp-1', alg: 'ES256' }] }));
const app = await testApp(t, {
  rulesDir: bundledRules(t, ['blood-in-pee', 'chest-pain']),
  now: () => new Date(Date.now() + offsetMs),
  env: { AUTH_JWKS_URL: `file://${jwks}`, AUTH_JWT_ISSUER: 'https://idp.example.nhs.uk', AUTH_JWT_AUDIENCE: 'triage-service' },
});
const base = await app.listen({ port: 0, host: '127.0.0.1' });
const browser = await launch(t);
const ME = handlerIdOf(2);

// Blood in pee for a woman of 40: a 6-hour callback ("None of these" to every question).
const ROUTINE_ANSWERS = { emergency_signs: ['none'], red_signs: ['none'], urgent_signs: ['none'], kidney_signs: ['none'], other_signs: ['none'] };
async function bloodInPee(): Promise<string> {
  const start = await post(app, '/v1/assessments', { pathwayId: 'blood-in-pee', patient: { ageYears: 40, sex: 'female' } });
  let step = start.body;
  while (step.status === 'in_progress') {
    step = (await post(app, `/v1/assessments/${start.body.id}/answers`, { questionId: step.question.id, value: ROUTINE_ANSWERS[step.question.id as keyof typeof ROUTINE_ANSWERS] })).body;
  }
  return (await post(app, `/v1/assessments/${start.body.id}/callback`, contact)).body.id as string;
}

async function signIn(page: Page, credential: string): Promise<void> {
  await page.goto(`${base}/console/`);
  await tabTo(page, /^Your staff API key or sign-in token$/);
  await page.keyboard.type(credential);
  await page.keyboard.press('Enter');
  await page.locator('#signed-in', { hasText: 'Signed in as' }).waitFor();
}

// Dispositions (CB-URGENT, ED-AE) and ISO 8601 windows (PT1H, PT0M) are for machines.
const CODES = /\b(CB|ED)-[A-Z]|\bPT?\d+[WDHMS]\b/;
const row = (page: Page, id: string) => page.locator(`#queue tr[data-id="${id}"]`);
const message = async (page: Page) => ((await page.locator('#message').isVisible()) ? ((await page.locator('#message-text').textContent()) ?? '') : '');

/** Polls the page (never a fixed sleep) until the check holds, or gives up after 10 s. */
async function until(check: () => Promise<boolean>): Promise<boolean> {
  for (const end = Date.now() + 10_000; Date.now() < end;) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

t.test('the queue in plain words; a keyboard-only claim to completion; messages stay; focus stays on the row', async (t) => {
  const urgent = (await requested(app, URGENT, patient)).cb.id as string;
  const routine = await bloodInPee();
  const page = await openPage(t, browser);
  await signIn(page, HANDLER_KEYS[2]!);
  t.equal(await page.locator('#signed-in').textContent(), `Signed in as ${ME}`, 'an API key has no display name: the handler id');
  await row(page, routine).waitFor();

  const first = (await row(page, urgent).textContent()) ?? '';
  t.match(first, /Call back within 1 hour.*Chest pain.*Adult, male.*Waiting/s, 'urgency, topic, age band and sex in words');
  t.match(await row(page, routine).textContent(), /Call back within 6 hours.*Blood in pee.*Adult, female/s);
  t.notMatch(await page.locator('#queue').textContent(), CODES, 'no raw codes');
  const before = await row(page, urgent).locator('.time-left').textContent();
  // Read within the request's first second it is still a whole hour.
  t.match(before, /^(\d+ min \d+ s|1 h 0 min) left$/);
  t.ok(await until(async () => (await row(page, urgent).locator('.time-left').textContent()) !== before), 'time left counts down in the page');
  await axeAtWidths(t, page, 'the queue');
  await page.screenshot({ path: path.join(SHOTS, 'console-queue.png'), fullPage: true });

  // Keyboard only: Tab to the row's Claim, Enter; focus stays on that row (its button is now View).
  await tabTo(page, /^Claim Chest pain, Adult, male$/);
  await page.keyboard.press('Enter');
  t.ok(await until(async () => (await message(page)).startsWith('You claimed this request')), 'the claim is confirmed');
  await page.locator('#answers .nhsuk-summary-list__row').first().waitFor();
  t.ok(await until(async () => /^View Chest pain/.test((await focused(page)).text)), 'focus stays on the row acted on');
  const detail = (await page.locator('#detail').textContent()) ?? '';
  t.match(await page.locator('#answers').textContent(), /Are you coughing up blood\?No/, 'answers as question and option text');
  t.match(await page.locator('#answers').textContent(), /What does the pain feel like\?Burning, like indigestion/);
  t.match(await page.locator('#advice').textContent(), /A nurse or doctor will call you within 1 hour.*Call 999/s, 'the advice the patient was shown');
  t.notMatch(detail, CODES, 'no codes');
  t.notMatch(detail, /cp-[a-z-]+|emergency_signs|burning\b|\bnull\b/, 'no rule ids, question ids, option values or nulls');
  t.equal(await page.getByRole('link', { name: '+447700900123' }).getAttribute('href'), 'tel:+447700900123');
  await axeAtWidths(t, page, 'the details of a claimed request');
  await page.screenshot({ path: path.join(SHOTS, 'console-claimed.png'), fullPage: true });

  // Someone else claims the other request first, between the handler's click and the claim
  // reaching the service: the 409 is said, and stays through live updates.
  await page.route(`**/v1/callbacks/${routine}/claim`, async (route) => {
    t.equal((await post(app, `/v1/callbacks/${routine}/claim`, {}, asHandler(3))).status, 200, 'another handler claims it');
    await route.continue();
  });
  await tabTo(page, /^Claim Blood in pee/);
  await page.keyboard.press('Enter');
  t.ok(await until(async () => (await message(page)).startsWith('Someone else claimed this request first')), 'a 409 in words');
  await bloodInPee();
  t.ok(await until(async () => (await page.locator('#live').textContent())?.startsWith('New request: Blood in pee') ?? false), 'live updates are announced');
  t.match((await focused(page)).text, /^View Blood in pee/, 'without moving focus from the row acted on');
  t.match(await message(page), /^Someone else claimed this request first/, 'the stats line and live updates leave the message alone');
  t.match(await page.locator('#stats').textContent(), /^1 waiting \(1 within 6 hours\), 2 claimed, 0 overdue\.$/, 'the stats line, in words');

  // No answer, with notes; then claimed again and completed, all by keyboard from the row.
  await tabTo(page, /^View Chest pain/, { back: true });
  await page.keyboard.press('Enter');
  await page.locator('#attempt-notes').waitFor();
  await tabTo(page, /^Notes about the call \(optional\)$/);
  await page.keyboard.type('Went to voicemail');
  await tabTo(page, /^Record no answer$/);
  await page.keyboard.press('Enter');
  t.ok(await until(async () => (await message(page)).startsWith('Call attempt recorded')), 'the attempt is confirmed');
  t.ok(await until(async () => /^Claim Chest pain/.test((await focused(page)).text)), 'focus on the row, back in the queue');
  t.match((await row(page, urgent).textContent()) ?? '', /Waiting/);
  await page.keyboard.press('Enter');
  t.ok(await until(async () => (await message(page)).startsWith('You claimed this request')));
  t.ok(await until(async () => /Called, no answer \(you\): Went to voicemail/.test((await page.locator('#history').textContent()) ?? '')), 'attempt notes in the history');
  await tabTo(page, /^Notes$/);
  await page.keyboard.type('Advised rest, call 111 if worse');
  await tabTo(page, /^Complete$/);
  await page.keyboard.press('Enter');
  t.ok(await until(async () => (await message(page)) === 'Request completed.'), 'completion is confirmed');
  t.ok(await until(async () => (await focused(page)).id === 'message'), 'the row left the queue: focus on the message');
  t.equal(await row(page, urgent).count(), 0);
  const done = (await get(app, `/v1/callbacks/${urgent}`, STAFF['call-handler'])).body;
  t.match(done, { status: 'completed', completion: { outcome: 'advice_given', notes: 'Advised rest, call 111 if worse' } });
  t.match(
    done.history.find((e: { action: string }) => e.action === 'attempt'),
    { handlerId: ME, detail: { notes: 'Went to voicemail' } },
  );

  await page.getByRole('button', { name: 'Dismiss' }).click();
  t.equal(await page.locator('#message').isVisible(), false, 'a message goes when dismissed');
  await page.getByLabel('Show', { exact: true }).selectOption('completed');
  await row(page, urgent).waitFor();
  t.match(await row(page, urgent).textContent(), /Completed/, 'the completed view');
  await row(page, urgent).getByRole('button').click();
  t.match(await page.locator('#detail').textContent(), /OutcomeAdvice given: Advised rest, call 111 if worse/);
  await page.close();
});

t.test('filters; cancel with a reason; overdue marked live; the display name from a sign-in token', async (t) => {
  const flagged = await bloodInPee();
  for (let i = 0; i < 3; i++) {
    await post(app, `/v1/callbacks/${flagged}/claim`, {}, asHandler(4));
    await post(app, `/v1/callbacks/${flagged}/attempts`, {}, asHandler(4));
  }
  const urgent = (await requested(app, URGENT, patient)).cb.id as string;
  const name = 'Nurse Jones';
  const token = await new SignJWT({ roles: ['call-handler'], name })
    .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
    .setSubject('nurse.jones')
    .setIssuer('https://idp.example.nhs.uk')
    .setAudience('triage-service')
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(privateKey);
  const page = await openPage(t, browser);
  await signIn(page, token);
  t.equal(await page.locator('#signed-in').textContent(), `Signed in as ${name}`, "the token's name claim");
  await row(page, urgent).waitFor();

  await page.getByLabel('Flagged for clinical review').check();
  t.same(await page.locator('#queue tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id'))), [flagged], 'flagged only');
  t.match(await row(page, flagged).textContent(), /Clinical review: no answer 3 times/);
  await page.getByLabel('Flagged for clinical review').uncheck();
  await page.getByLabel('Urgency').selectOption({ label: 'Call back within 1 hour' });
  const oneHour = await page.locator('#queue tr').evaluateAll((rows) => rows.map((r) => r.textContent ?? ''));
  t.ok(oneHour.length > 0 && oneHour.every((r) => r.includes('Call back within 1 hour')), 'by urgency');
  await page.getByLabel('Urgency').selectOption({ label: 'Any urgency' });

  // Cancel needs a reason, and says so by the field.
  await page.locator(`#queue [data-claim="${flagged}"]`).click();
  await page.locator('#cancel-form').waitFor();
  await page.getByRole('button', { name: 'Cancel request' }).click();
  t.match(await page.locator('#cancel-reason-error').textContent(), /Enter why the request is no longer needed/);
  t.equal((await get(app, `/v1/callbacks/${flagged}`, STAFF['call-handler'])).body.status, 'claimed', 'nothing sent without a reason');
  await page.getByLabel('Why it is no longer needed').fill('Patient went to A&E');
  await page.getByRole('button', { name: 'Cancel request' }).click();
  t.ok(await until(async () => (await message(page)) === 'Request cancelled.'));
  const cancelled = (await get(app, `/v1/callbacks/${flagged}`, STAFF['call-handler'])).body;
  t.equal(cancelled.status, 'cancelled');
  t.match(
    cancelled.history.find((e: { action: string }) => e.action === 'cancel'),
    { handlerId: 'jwt:https://idp.example.nhs.uk|nurse.jones', detail: { reason: 'Patient went to A&E' } },
    'the reason is recorded, and who by',
  );

  // The patient changes answers after asking, and is now told to call 999: flagged, in words.
  const { assessmentId, cb } = await requested(app, URGENT, patient);
  await post(app, `/v1/assessments/${assessmentId}/answers`, { questionId: 'pain_now', value: true });
  t.match((await post(app, `/v1/assessments/${assessmentId}/answers`, { questionId: 'pain_feel', value: 'crushing_heavy_tight' })).body, { outcome: { kind: 'escalate' } });
  await row(page, cb.id).waitFor();
  t.ok(await until(async () => /Escalated since the request: clinical review.*Answers changed/s.test((await row(page, cb.id).textContent()) ?? '')), 'flagged in the queue');
  await page.locator(`#queue [data-claim="${cb.id}"]`).click();
  await page.locator('#answers-changed').waitFor();
  t.match(await page.locator('#answers-changed').textContent(), /Answers changed after the request.*When they asked.*Call back within 1 hour.*Latest.*Emergency care now/s);
  t.match(await row(page, cb.id).textContent(), /Call back now/, "an escalation's urgency");
  t.notMatch(await page.locator('#detail').textContent(), CODES, 'no codes');
  t.notMatch(await page.locator('#queue').textContent(), CODES);
  await page.screenshot({ path: path.join(SHOTS, 'console-answers-changed.png'), fullPage: true });

  // The service's clock moves to 5 seconds before the 1-hour request is due; the page, having
  // read the queue once, counts down to it and marks the row overdue by itself.
  const { dueAt } = (await get(app, `/v1/callbacks/${urgent}`, STAFF['call-handler'])).body;
  offsetMs = Date.parse(dueAt) - Date.now() - 5000;
  await page.getByLabel('Show', { exact: true }).selectOption('completed');
  // The open view's row must be gone before it is asked for again: else the row found is the one
  // read before the clock moved (a CI run once read "59 min 58 s left" from it).
  await row(page, urgent).waitFor({ state: 'detached' });
  await page.getByLabel('Show', { exact: true }).selectOption('open');
  await row(page, urgent).waitFor();
  t.match(await row(page, urgent).locator('.time-left').textContent(), /^0 min [0-5] s left$/, 'seconds left');
  t.equal(await row(page, urgent).getAttribute('class'), 'nhsuk-table__row', 'not overdue yet');
  t.ok(await until(async () => (await row(page, urgent).getAttribute('class'))?.includes('overdue') ?? false), 'turns overdue in the page');
  t.match(await row(page, urgent).textContent(), /Overdue by 0 min \d+ s.*Overdue/s, 'said in words and a tag, not only colour');
  t.ok(await until(async () => /^Now overdue: Chest pain, Adult, male/.test((await page.locator('#live').textContent()) ?? '')), 'announced without moving focus');
  await page.getByLabel('Overdue', { exact: true }).check();
  t.ok((await page.locator('#queue tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')))).includes(urgent), 'the overdue filter');
  await axeAtWidths(t, page, 'the queue with an overdue request');
  await page.screenshot({ path: path.join(SHOTS, 'console-overdue.png'), fullPage: true });
  await page.close();
});
