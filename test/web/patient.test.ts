import path from 'node:path';
import type { Page } from 'playwright-core';
import t from 'tap';
import { BUNDLED_RULES, get, STAFF, testApp } from '../helpers.js';
import { axeAtWidths, focused, heading, launch, openPage, SHOTS, tabTo } from './browser.js';

/**
 * The patient page in Chromium: a whole assessment by keyboard alone to a callback request;
 * browser Back and Forward, reload, "None of these", errors in plain words and a title per step;
 * the privacy and accessibility statements. Every page is checked by axe at 390 and 1280 px.
 */
const app = await testApp(t, { rulesDir: BUNDLED_RULES });
const base = await app.listen({ port: 0, host: '127.0.0.1' });
const browser = await launch(t);
const SERVICE = 'Get help with a health problem';

// Blood in pee, for a woman of 40: "None of these" five times is a 6-hour callback. The questions
// differ by a few words only; the caption numbers each step.
const QUESTIONS = [
  'Is the person having any of these right now?',
  'Is any of these happening now?',
  'Are there any of these serious signs?',
  'Is there any of these as well?',
  'Are any of these other things true?',
];
const OUTCOME = 'A nurse or doctor will call you within 6 hours';

async function startBloodInPee(page: Page): Promise<void> {
  await page.goto(`${base}/`);
  await heading(page, 'What is your main symptom?');
  await page.getByLabel('What is your main symptom?').fill('blood in pee');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('#results').getByRole('link', { name: 'Blood in pee' }).click();
  await heading(page, 'About you');
}

const questionHeading = (n: number) => `Question ${n} - ${QUESTIONS[n - 1]}`;

t.test('keyboard only: search, about you, five questions, the outcome and a callback request', async (t) => {
  const page = await openPage(t, browser, 390);
  await page.goto(`${base}/`);
  t.equal(await heading(page, 'What is your main symptom?'), 'What is your main symptom?');
  t.equal(await page.title(), `What is your main symptom? - ${SERVICE}`);
  t.match(await focused(page), { tag: 'h1' }, 'focus starts on the heading');
  await axeAtWidths(t, page, 'the start');

  await page.keyboard.press('Tab');
  t.match(await focused(page), { id: 'symptom' }, 'the search box is next');
  await page.keyboard.type('blood in pee');
  await page.keyboard.press('Enter');
  await page.locator('#results h2').waitFor();
  await tabTo(page, /^Blood in pee$/);
  await page.keyboard.press('Enter');

  t.equal(await heading(page, 'About you'), 'Blood in pee - About you', 'the topic is in the heading, as a caption');
  t.equal(await page.title(), `About you - ${SERVICE}`);
  t.match(await focused(page), { tag: 'h1' });
  await tabTo(page, /^How old are you\?$/);
  await page.keyboard.type('40');
  await tabTo(page, /^Female$/);
  await page.keyboard.press('Space');
  await tabTo(page, /^Continue$/);
  await page.keyboard.press('Enter');

  for (const [i, text] of QUESTIONS.entries()) {
    t.equal(await heading(page, text), questionHeading(i + 1));
    t.equal(await page.title(), `Question ${i + 1}: ${text} - ${SERVICE}`, 'the page title names the question');
    t.match(await focused(page), { tag: 'h1', text: questionHeading(i + 1) }, 'focus on the heading at each step');
    await tabTo(page, /^None of these$/);
    await page.keyboard.press('Space');
    await tabTo(page, /^Continue$/);
    await page.keyboard.press('Enter');
  }

  t.equal(await heading(page, OUTCOME), OUTCOME);
  t.equal(await page.title(), `${OUTCOME} - ${SERVICE}`);
  t.match(await focused(page), { tag: 'h1', text: OUTCOME });
  await axeAtWidths(t, page, 'the callback outcome');
  await tabTo(page, /^Your name$/);
  await page.keyboard.type('Grace Hopper');
  await page.keyboard.press('Tab');
  await page.keyboard.type('07700 900123');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Space');
  await tabTo(page, /^Ask for a call back$/);
  await page.keyboard.press('Enter');
  await page.locator('#callback-confirmed').waitFor();
  t.match(await focused(page), { tag: 'h2', text: 'Call back requested' }, 'focus on the confirmation, not the page body');
  t.match(await page.locator('#callback-confirmed').textContent(), /A nurse or doctor will call \+447700900123 by \d\d:\d\d/);
  await axeAtWidths(t, page, 'the callback confirmation');
  await page.screenshot({ path: path.join(SHOTS, 'patient-callback-requested.png'), fullPage: true });
  t.match((await get(app, '/v1/callbacks', STAFF['call-handler'])).body.items, [{ within: 'PT6H', topic: 'Blood in pee', ageBand: 'adult', sex: 'female' }], 'the request is queued');

  // Back after asking: each question says the clinician will see a change before one is made.
  await page.goBack();
  t.equal(await heading(page, questionHeading(5)), questionHeading(5));
  t.match(await page.locator('#change-warning').textContent(), /You have asked for a call back\. If you change an answer, the nurse or doctor who calls you will see the change\./);
  for (const n of [4, 3, 2]) {
    await page.goBack();
    t.equal(await heading(page, questionHeading(n)), questionHeading(n));
  }
  t.ok(await page.locator('#change-warning').isVisible(), 'on every question');
  await page.getByLabel('None of these', { exact: true }).uncheck();
  await page.getByLabel('New confusion, or not making sense').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.locator('#act-now').waitFor();
  t.match(await page.locator('#act-now').textContent(), /^Do not wait for our call back.*Your answers have changed since you asked for a call back\./s, "what to do now, in the outcome's words");
  t.equal(await page.locator('#callback-form').count(), 0, 'no second request form');
  await axeAtWidths(t, page, 'an escalation after a callback request');
  await page.screenshot({ path: path.join(SHOTS, 'patient-escalated-after-callback.png'), fullPage: true });
  t.match((await get(app, '/v1/callbacks', STAFF['call-handler'])).body.items, [{ needsReview: true, reviewReason: 'escalated', answersChanged: true }], 'flagged for review');
  await page.close();
});

t.test('Back and Forward move between questions; reload resumes; each step has its own heading and title', async (t) => {
  const page = await openPage(t, browser);
  await startBloodInPee(page);
  await page.getByRole('button', { name: 'Continue' }).click();
  t.match(await page.locator('.nhsuk-error-summary').textContent(), /There is a problem.*Enter your age in years, a whole number from 0 to 120.*Choose female or male/s, 'errors are summarised');
  t.equal(await page.title(), `Error: About you - ${SERVICE}`, 'the title says there is an error');
  t.equal(await page.locator('.nhsuk-error-summary a').first().getAttribute('href'), '#age', 'each error links to its field');
  await axeAtWidths(t, page, 'about you, with errors');
  await page.getByLabel('How old are you?').fill('40');
  await page.getByLabel('Female', { exact: true }).check();
  await page.getByRole('button', { name: 'Continue' }).click();

  const titles: string[] = [];
  const headings: string[] = [];
  for (const [i, text] of QUESTIONS.entries()) {
    headings.push(await heading(page, text));
    titles.push(await page.title());
    if (i === 0) await axeAtWidths(t, page, 'the first question');
    if (i < QUESTIONS.length - 1) {
      await page.getByLabel('None of these', { exact: true }).check();
      await page.getByRole('button', { name: 'Continue' }).click();
    }
  }
  t.equal(new Set(headings).size, QUESTIONS.length, 'no two steps share a heading');
  t.equal(new Set(titles).size, QUESTIONS.length, 'nor a page title');

  await page.goBack();
  t.equal(await heading(page, QUESTIONS[3]!), questionHeading(4), 'browser Back: the previous question');
  t.ok(await page.getByLabel('None of these', { exact: true }).isChecked(), 'with its answer');
  t.match(await focused(page), { tag: 'h1' });
  await page.goBack();
  t.equal(await heading(page, questionHeading(3)), questionHeading(3));
  await page.goForward();
  t.equal(await heading(page, questionHeading(4)), questionHeading(4), 'browser Forward');
  await page.goForward();
  t.equal(await heading(page, questionHeading(5)), questionHeading(5));

  await page.reload();
  t.equal(await heading(page, questionHeading(5)), questionHeading(5), 'reload resumes at the same question');
  const storage = (await page.evaluate('({ session: Object.keys(sessionStorage), local: localStorage.length, url: location.href })')) as { session: string[]; local: number; url: string };
  t.same(storage, { session: ['assessment'], local: 0, url: `${base}/` }, 'the token is in sessionStorage only: never localStorage, never the address');
  await page.goBack();
  t.equal(await heading(page, questionHeading(4)), questionHeading(4), 'Back still works after a reload');

  // Changing an earlier answer follows the API: later answers that no longer apply are dropped.
  await page.goBack();
  await page.goBack();
  t.equal(await heading(page, questionHeading(2)), questionHeading(2));
  await page.getByLabel('New confusion, or not making sense').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  const outcome = await heading(page, /Call 999|A&E|111/);
  t.not(outcome, OUTCOME, 'a red flag changes the outcome');
  t.equal(await page.locator('#outcome').getAttribute('data-kind'), 'escalate');
  await axeAtWidths(t, page, 'an escalation outcome');
  await page.goBack();
  t.equal(await heading(page, questionHeading(2)), questionHeading(2));
  t.ok(await page.getByLabel('New confusion, or not making sense').isChecked(), 'the changed answer is shown');
  await page.goForward();
  t.equal(await heading(page, outcome), outcome);
  await page.reload();
  t.equal(await heading(page, outcome), outcome, 'reload on the outcome shows it again');
  await page.close();
});

t.test('"None of these" is exclusive in the page; errors are in plain words, never an id or the server\'s', async (t) => {
  const page = await openPage(t, browser);
  await startBloodInPee(page);
  await page.getByLabel('How old are you?').fill('121');
  await page.getByLabel('Female', { exact: true }).check();
  await page.getByRole('button', { name: 'Continue' }).click();
  t.match(await page.locator('#age-error').textContent(), /Enter your age in years, a whole number from 0 to 120/);
  await page.getByLabel('How old are you?').fill('40');
  await page.getByRole('button', { name: 'Continue' }).click();
  await heading(page, QUESTIONS[0]!);

  await page.getByRole('button', { name: 'Continue' }).click();
  const summary = (await page.locator('.nhsuk-error-summary').textContent()) ?? '';
  t.match(summary, /Choose any that apply, or "None of these"/, 'a missing answer, in plain words');
  t.notMatch(summary, /emergency_signs|questionId|value/, 'never a question id or field name');
  t.equal(await page.locator('#answer-error').isVisible(), true, 'the message is by the question too');
  await axeAtWidths(t, page, 'a question with an error');

  const none = page.getByLabel('None of these', { exact: true });
  const first = page.getByLabel('Not breathing, or has stopped breathing');
  const second = page.getByLabel('Unconscious or cannot be woken up');
  await first.check();
  await second.check();
  await none.check();
  t.same([await first.isChecked(), await second.isChecked(), await none.isChecked()], [false, false, true], '"None of these" clears the others');
  await first.check();
  t.same([await first.isChecked(), await none.isChecked()], [true, false], 'and another clears "None of these"');
  await page.screenshot({ path: path.join(SHOTS, 'patient-question.png'), fullPage: true });
  await page.close();
});
