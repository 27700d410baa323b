import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import t from 'tap';
import { get, HANDLER_KEYS, handlerIdOf, post, REPO, STAFF, testApp } from '../helpers.js';
import { axeViolations, launchChromium } from './chromium.js';

/**
 * The bundled pages in a real browser (Debian's Chromium, driven by playwright-core): a patient
 * walks chest pain to a callback and asks for it; a call handler sees it arrive, claims it and
 * completes it. Screenshots of each page go to test-output/.
 */
const SHOTS = path.join(REPO, 'test-output/screenshots');
mkdirSync(SHOTS, { recursive: true });

const browser = await launchChromium(t);
if (!browser) process.exit(0);
const app = await testApp(t);
const base = await app.listen({ port: 0, host: '127.0.0.1' });

async function choose(page: Page, label: string): Promise<void> {
  await page.getByLabel(label, { exact: true }).check();
}

async function next(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Continue' }).click();
}

/** Waits for the page to show this heading (each step re-renders after an API call). */
async function heading(page: Page, text: string): Promise<string> {
  const h1 = page.locator('h1', { hasText: text });
  await h1
    .first()
    .waitFor({ timeout: 10_000 })
    .catch(() => undefined);
  return (await page.locator('h1').first().textContent())?.trim() ?? '';
}

async function search(page: Page, words: string): Promise<void> {
  await page.getByLabel('What is your main symptom?').fill(words);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('#results h2').waitFor();
}

t.test('patient page: search, pick a topic, age and sex, a callback outcome with Back, then the contact form', async (t) => {
  const page = await browser.newPage();
  page.on('pageerror', (err) => t.fail(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) t.fail(`CSP violation: ${msg.text()}`);
  });
  await page.goto(`${base}/`);
  t.equal(await heading(page, 'What is your main symptom?'), 'What is your main symptom?');
  const topics = (await get(app, '/v1/pathways')).body.topics as { title: string }[];
  t.same(
    await page.locator('#a-to-z li a').allTextContents(),
    topics.map((x) => x.title),
    'every topic in the A to Z list, the catch-all last',
  );

  await page.getByRole('button', { name: 'Search' }).click();
  t.match(await page.locator('.nhsuk-error-summary').textContent(), /Type your main symptom, or choose from the list/, 'an empty search is an error');
  await search(page, 'pain in my chest');
  t.equal(await page.locator('#results h2').textContent(), 'Choose the one that fits best');
  t.equal(await page.locator('#results li a').first().textContent(), 'Chest pain', 'the best match first');
  t.same(await axeViolations(page), [], 'search results: no accessibility violations');
  await page.screenshot({ path: path.join(SHOTS, 'patient-search-results.png'), fullPage: true });

  await page.locator('#results').getByRole('link', { name: 'Chest pain' }).click();
  t.equal(await heading(page, 'About you'), 'About you');
  t.equal(await page.locator('.nhsuk-caption-l').textContent(), 'Chest pain', 'the topic picked is shown');
  await page.getByRole('button', { name: 'Continue' }).click();
  t.match(await page.locator('.nhsuk-error-summary').textContent(), /Enter your age.*Choose female or male/s, 'errors are summarised');
  t.equal(await page.locator('.nhsuk-error-summary a').first().getAttribute('href'), '#age', 'each error links to its field');
  t.same(await axeViolations(page), [], 'about you, with errors: no accessibility violations');
  await page.screenshot({ path: path.join(SHOTS, 'patient-start-errors.png'), fullPage: true });

  // Back to the results, as they were; then on.
  await page.getByRole('link', { name: 'Back' }).click();
  t.equal(await page.getByLabel('What is your main symptom?').inputValue(), 'pain in my chest', 'the words are kept');
  await page.locator('#results').getByRole('link', { name: 'Chest pain' }).click();
  await heading(page, 'About you');
  await page.getByLabel('How old are you?').fill('52');
  await choose(page, 'Male');
  await next(page);

  t.equal(await heading(page, 'Is the person having any of these right now?'), 'Is the person having any of these right now?');
  await next(page);
  t.match(await page.locator('.nhsuk-error-summary').textContent(), /Choose an answer/, 'an unanswered question is an error, not a guess');
  await choose(page, 'None of these');
  await next(page);
  t.equal(await heading(page, 'Do you have chest pain right now?'), 'Do you have chest pain right now?');
  await choose(page, 'Yes');
  await next(page);
  t.equal(await heading(page, 'What does the pain feel like?'), 'What does the pain feel like?');

  // Back: change "pain now" to No, then carry on.
  await page.getByRole('link', { name: 'Back' }).click();
  t.equal(await heading(page, 'Do you have chest pain right now?'), 'Do you have chest pain right now?');
  t.ok(await page.getByLabel('Yes', { exact: true }).isChecked(), 'the earlier answer is shown');
  await choose(page, 'No');
  await next(page);
  t.equal(await heading(page, 'What does the pain feel like?'), 'What does the pain feel like?');
  await page.screenshot({ path: path.join(SHOTS, 'patient-question.png'), fullPage: true });
  t.same(await axeViolations(page), [], 'a question: no accessibility violations');
  // Each step waits for its own question, so an answer never lands on the page before.
  const steps: [string, string][] = [
    ['What does the pain feel like?', 'Burning, like indigestion'],
    // Pain that has stopped: where it spread and what came with it settle no more urgent rule.
    ['Are you coughing up blood?', 'No'],
    ['Did the pain start after an injury to your chest, like a fall or a blow?', 'No'],
    ['When did the pain start?', 'In the last 12 hours'],
  ];
  for (const [question, answer] of steps) {
    t.equal(await heading(page, question), question);
    await choose(page, answer);
    await next(page);
  }

  t.equal(await heading(page, 'A nurse or doctor will call you within 1 hour'), 'A nurse or doctor will call you within 1 hour');
  t.equal(await page.locator('#outcome').getAttribute('data-kind'), 'callback');
  t.match(await page.locator('#safety-netting').textContent(), /Call 999 if the pain gets worse/);
  t.same(await axeViolations(page), [], 'the outcome: no accessibility violations');

  await page.getByRole('button', { name: 'Ask for a call back' }).click();
  t.match(await page.locator('#callback-form .nhsuk-error-summary').textContent(), /Enter your name.*Enter a UK phone number.*Tick the box/s);
  await page.getByLabel('Your name').fill('Grace Hopper');
  await page.getByLabel('UK phone number').fill('12345');
  await page.getByLabel(/I agree to a nurse or doctor calling me/).check();
  await page.getByRole('button', { name: 'Ask for a call back' }).click();
  t.match(await page.locator('#phone-error').textContent(), /enter a UK mobile or landline number/, "the API's phone error shows by the field");
  t.equal(await page.getByLabel('UK phone number').getAttribute('aria-invalid'), 'true');
  await page.getByLabel('UK phone number').fill('07700 900123');
  await page.getByRole('button', { name: 'Ask for a call back' }).click();
  await page.locator('#callback-confirmed').waitFor();
  t.match(await page.locator('#callback-confirmed').textContent(), /A nurse or doctor will call \+447700900123 by \d\d:\d\d/);
  await page.screenshot({ path: path.join(SHOTS, 'patient-callback-requested.png'), fullPage: true });

  const queue = (await get(app, '/v1/callbacks', STAFF['call-handler'])).body;
  t.match(queue.items, [{ status: 'waiting', within: 'PT1H', disposition: 'CB-URGENT' }], 'the request is in the queue');

  // Back after asking: the page says the clinician will see a change before one can be made.
  await page.getByRole('link', { name: 'Back' }).click();
  t.equal(await heading(page, 'When did the pain start?'), 'When did the pain start?');
  t.match(await page.locator('#change-warning').textContent(), /You have asked for a call back\. If you change an answer, the nurse or doctor who calls you will see the change\./);
  await page.screenshot({ path: path.join(SHOTS, 'patient-change-after-callback.png'), fullPage: true });
  for (const question of ['Did the pain start after an injury to your chest, like a fall or a blow?', 'Are you coughing up blood?']) {
    await page.getByRole('link', { name: 'Back' }).click();
    t.equal(await heading(page, question), question);
  }
  t.ok(await page.locator('#change-warning').isVisible(), 'on every question');
  await choose(page, 'Yes');
  await next(page);
  t.equal(await heading(page, 'Go to A&E now'), 'Go to A&E now');
  t.match(await page.locator('#act-now').textContent(), /Do not wait for our call back.*Go to A&E now\..*Go to A&E now\. Do not drive yourself/s, "what to do now, in the outcome's words");
  t.equal(await page.locator('#callback-form').count(), 0, 'no second request form');
  await page.screenshot({ path: path.join(SHOTS, 'patient-escalated-after-callback.png'), fullPage: true });
  t.match((await get(app, '/v1/callbacks', STAFF['call-handler'])).body.items, [{ disposition: 'ED-AE', needsReview: true, reviewReason: 'escalated', answersChanged: true }], 'flagged for review');
  await page.close();
});

t.test('patient page: no match offers the catch-all; a topic with nothing for this person runs it, and says so', async (t) => {
  const page = await browser.newPage();
  page.on('pageerror', (err) => t.fail(`page error: ${err.message}`));
  await page.goto(`${base}/`);
  await heading(page, 'What is your main symptom?');
  await search(page, 'zxqv wyvern');
  t.equal(await page.locator('#results h2').textContent(), 'No matches found');
  t.same(await page.locator('#results li a').allTextContents(), ['Something else, or my symptom is not listed'], 'the catch-all is offered');
  t.same(await axeViolations(page), [], 'no matches: no accessibility violations');

  await search(page, 'chest pain');
  await page.locator('#results').getByRole('link', { name: 'Chest pain' }).click();
  await heading(page, 'About you');
  await page.getByLabel('How old are you?').fill('8');
  await choose(page, 'Female');
  const started = page.waitForResponse((r) => r.url().endsWith('/v1/assessments') && r.request().method() === 'POST');
  await next(page);
  t.match(await (await started).json(), { pathwayId: 'something-else', redirected: { from: 'chest-pain' } }, 'the catch-all runs');
  await page.locator('#redirected').waitFor();
  t.match(await page.locator('#redirected').textContent(), /We do not have questions about "Chest pain" for you\. These general questions work for any health problem/);
  t.same(await axeViolations(page), [], "the catch-all's first question: no accessibility violations");
  await page.screenshot({ path: path.join(SHOTS, 'patient-catch-all.png'), fullPage: true });
  await page.close();
});

t.test('console: a new request appears live, is claimed, explained and completed', async (t) => {
  const page = await browser.newPage();
  page.on('pageerror', (err) => t.fail(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) t.fail(`CSP violation: ${msg.text()}`);
  });
  const response = await page.goto(`${base}/console/`);
  t.match(response?.headers()['content-security-policy'], /default-src 'self'/, 'the page is served with a CSP');
  await page.getByLabel('Your staff API key').fill(HANDLER_KEYS[2]!);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#signed-in', { hasText: `Signed in as ${handlerIdOf(2)}` }).waitFor();
  await page.locator('#queue tr').first().waitFor();
  const before = await page.locator('#queue tr').count();

  // A second patient asks for a callback while the console is open: it arrives by server-sent event.
  const answers = { emergency_signs: ['none'], pain_now: false, pain_feel: 'sharp_worse_breathing', pain_spreads: ['none'], associated: ['none'], coughing_blood: false, injury: false, started: '12_to_72h' };
  const start = await post(app, '/v1/assessments', { pathwayId: 'chest-pain', patient: { ageYears: 44, sex: 'female' } });
  let step = start.body;
  while (step.status === 'in_progress') {
    step = (await post(app, `/v1/assessments/${start.body.id}/answers`, { questionId: step.question.id, value: answers[step.question.id as keyof typeof answers] })).body;
  }
  const requested = await post(app, `/v1/assessments/${start.body.id}/callback`, { name: 'Alan Turing', phone: '020 7946 0000', consent: true });
  await page.locator(`#queue tr[data-id="${requested.body.id}"]`).waitFor();
  t.equal(await page.locator('#queue tr').count(), before + 1, 'the new request appeared without reloading');
  const order = await page.locator('#queue tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')));
  t.equal(order[order.length - 1], requested.body.id, 'the 2-hour request sits after the 1-hour one');
  await page.screenshot({ path: path.join(SHOTS, 'console-queue.png'), fullPage: true });

  await page.locator(`[data-claim="${requested.body.id}"]`).click();
  await page.locator('#explanation').waitFor();
  t.match(await page.locator('#explanation').textContent(), /^Clinician callback: .*because rule cp-pain-12-to-72h/);
  t.match(await page.locator('#answers').textContent(), /Are you coughing up blood\?No/);
  t.match(await page.locator('#detail').textContent(), new RegExp(`Claimed by ${handlerIdOf(2)}`));
  t.equal(await page.getByRole('link', { name: '+442079460000' }).getAttribute('href'), 'tel:+442079460000', 'the phone number is a tel: link');
  await page.screenshot({ path: path.join(SHOTS, 'console-claimed.png'), fullPage: true });

  await page.getByLabel('Outcome of the call').selectOption('booked_gp_or_urgent_care');
  await page.getByLabel('Notes').fill('Booked for 17:10');
  await page.getByRole('button', { name: 'Complete' }).click();
  await page.locator(`#queue tr[data-id="${requested.body.id}"]`).waitFor({ state: 'detached' });
  const done = (await get(app, `/v1/callbacks/${requested.body.id}`, STAFF['call-handler'])).body;
  t.match(done, { status: 'completed', completion: { outcome: 'booked_gp_or_urgent_care', notes: 'Booked for 17:10' } });
  const history = done.history.map((e: { action: string; handlerId: string }) => `${e.action}:${e.handlerId ?? '-'}`);
  t.same(
    history.filter((e: string) => !e.startsWith('contact_read:')),
    ['requested:-', `claim:${handlerIdOf(2)}`, `complete:${handlerIdOf(2)}`],
  );
  t.ok(history.includes(`contact_read:${handlerIdOf(2)}`), "the console's reads of the contact details are in the history");
  await page.screenshot({ path: path.join(SHOTS, 'console-completed.png'), fullPage: true });

  // The patient's request that escalated after asking: at the top, flagged, both decisions shown.
  const escalated = page.locator('#queue tr').first();
  t.match(await escalated.textContent(), /ED-AE.*Escalated since the request: clinical review.*Answers changed/s);
  await escalated.getByRole('button', { name: 'Claim' }).click();
  await page.locator('#answers-changed').waitFor();
  t.match(await page.locator('#answers-changed').textContent(), /Answers changed after the request.*When asked.*Callback: CB-URGENT \(within 1h\).*Latest.*Escalation: ED-AE \(within 1h\)/s);
  await page.screenshot({ path: path.join(SHOTS, 'console-answers-changed.png'), fullPage: true });
  await page.close();
});
