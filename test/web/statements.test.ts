import t from 'tap';
import { testApp } from '../helpers.js';
import { axeAtWidths, heading, launch, openPage } from './browser.js';

/**
 * The rest of the bundled pages in Chromium: the privacy and accessibility statements reached
 * from the footer, the favicon, and the ways into the catch-all (no search match; a topic with
 * nothing for this person). axe at 390 and 1280 px.
 */
const app = await testApp(t);
const base = await app.listen({ port: 0, host: '127.0.0.1' });
const browser = await launch(t);
const SERVICE = 'Get help with a health problem';

t.test('the header and footer link to the privacy and accessibility statements; a favicon is served', async (t) => {
  const page = await openPage(t, browser);
  await page.goto(`${base}/`);
  await heading(page, 'What is your main symptom?');
  t.equal(await page.locator('header.nhsuk-header a.nhsuk-header__service-name').textContent(), SERVICE);
  await page.locator('footer').getByRole('link', { name: 'Privacy' }).click();
  t.equal(await heading(page, 'Privacy'), 'Privacy');
  t.equal(await page.title(), `Privacy - ${SERVICE}`);
  t.match(await page.locator('main').textContent(), /What we keep and why.*How long we keep it.*Contact/s);
  await axeAtWidths(t, page, 'the privacy statement');
  await page.locator('footer').getByRole('link', { name: 'Accessibility statement' }).click();
  t.equal(await heading(page, 'Accessibility statement'), 'Accessibility statement');
  t.match(await page.locator('main').textContent(), /Known issues/);
  await axeAtWidths(t, page, 'the accessibility statement');
  t.equal(await page.locator('link[rel=icon]').getAttribute('href'), '/favicon.svg');
  const icon = await page.request.get(`${base}/favicon.ico`);
  t.equal(icon.status(), 200, '/favicon.ico leads to the icon');
  t.match(icon.headers()['content-type'], /image\/svg\+xml/);
  await page.close();
});

t.test('no match offers the catch-all; a topic with nothing for this person runs it, and says so', async (t) => {
  const page = await openPage(t, browser, 390);
  await page.goto(`${base}/`);
  await heading(page, 'What is your main symptom?');
  await page.getByLabel('What is your main symptom?').fill('zxqv wyvern');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('#results h2').waitFor();
  t.equal(await page.locator('#results h2').textContent(), 'No matches found');
  t.same(await page.locator('#results li a').allTextContents(), ['Something else, or my symptom is not listed'], 'the catch-all is offered');
  await axeAtWidths(t, page, 'no matches');

  await page.getByLabel('What is your main symptom?').fill('chest pain');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('#results').getByRole('link', { name: 'Chest pain' }).click();
  await heading(page, 'About you');
  await page.getByLabel('How old are you?').fill('8');
  await page.getByLabel('Female', { exact: true }).check();
  const started = page.waitForResponse((r) => r.url().endsWith('/v1/assessments') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Continue' }).click();
  t.match(await (await started).json(), { pathwayId: 'something-else', redirected: { from: 'chest-pain' } }, 'the catch-all runs');
  await page.locator('#redirected').waitFor();
  t.match(await page.locator('#redirected').textContent(), /We do not have questions about "Chest pain" for you\. These general questions work for any health problem/);
  await axeAtWidths(t, page, "the catch-all's first question");
  await page.close();
});
