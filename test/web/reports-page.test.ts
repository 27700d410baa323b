import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import t from 'tap';
import { assessment, ESCALATE, requested, URGENT } from '../callbacks/walks.js';
import { asHandler, post, STAFF, testApp } from '../helpers.js';
import { axeViolations, launch, openPage } from './browser.js';

/**
 * The reports page in Chromium: an auditor signs in, each chart draws the very numbers of the
 * table under it (read from the Chart.js instance in the page), the filters live in the URL,
 * a table downloads as CSV in the exported form, and axe finds nothing at phone and desktop widths.
 */
const browser = await launch(t);
const app = await testApp(t);
const base = await app.listen({ port: 0, host: '127.0.0.1' });

// Escalations, a fallback and callbacks (one called), so that every chart has something to draw.
for (let i = 0; i < 2; i++) await assessment(app, ESCALATE);
await assessment(app, { ...URGENT, pain_now: true, pain_feel: 'aching_tender', worse_on_pressing: true }, { ageYears: 45, sex: 'male' });
const { cb } = await requested(app, URGENT);
await requested(app, URGENT);
await post(app, `/v1/callbacks/${cb.id}/claim`, {}, asHandler(0));
await post(app, `/v1/callbacks/${cb.id}/attempts`, {}, asHandler(0));

const DAY = 86_400_000;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const from = day(Date.now() - DAY);
const to = day(Date.now() + DAY);

interface Drawn {
  labels: string[];
  datasets: { label: string; data: (number | null)[] }[];
  head: string[];
  rows: string[][];
}

/** A section's chart as Chart.js holds it, and its table as the page shows it. */
async function drawn(page: Page, id: string): Promise<Drawn> {
  // A string: it runs in the page, where Chart is defined (this project has no DOM types).
  return (await page.evaluate(`(() => {
    const chart = Chart.getChart(document.querySelector('#${id} canvas'));
    const cells = (selector) => [...document.querySelectorAll(selector)].map((el) => el.textContent.trim());
    return {
      labels: chart.data.labels,
      datasets: chart.data.datasets.map((d) => ({ label: d.label, data: d.data })),
      head: cells('#${id} thead th'),
      rows: [...document.querySelectorAll('#${id} tbody tr')].map((tr) => [...tr.children].map((c) => c.textContent.trim())),
    };
  })()`)) as Drawn;
}

const cell = (text: string | undefined): number | null => (text === undefined || text === '-' ? null : Number(text));

async function signedIn(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Your staff API key').fill(STAFF.auditor['x-api-key']!);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('body[data-reports-shown]');
}

t.test('each chart draws the numbers of the table under it', async (t) => {
  const page = await openPage(t, browser, 1280);
  await signedIn(page, `${base}/reports/?from=${from}&to=${to}&interval=day`);

  const mix = await drawn(page, 'outcome-mix');
  t.same(
    mix.labels,
    mix.rows.map((r) => r[0]),
    'outcome mix: one bar per table row',
  );
  for (const d of mix.datasets) {
    const column = mix.head.indexOf(d.label);
    t.ok(column > 0, `a column for ${d.label}`);
    t.same(
      d.data,
      mix.rows.map((r) => cell(r[column])),
      `outcome mix: ${d.label}`,
    );
  }
  t.equal(
    mix.datasets.find((d) => d.label === 'Escalation')!.data.reduce((a, b) => a! + b!, 0),
    2,
    'the two escalations',
  );

  const windows = await drawn(page, 'callback-windows');
  t.ok(windows.rows.length > 0, 'callback rows');
  for (const d of windows.datasets) {
    for (const [i, value] of d.data.entries()) {
      const row = windows.rows.find((r) => r[0] === windows.labels[i] && r[1] === d.label);
      t.equal(value, d.label === 'Target' ? 90 : cell(row?.[4]), `${d.label} on ${windows.labels[i]}`);
    }
  }
  for (const row of windows.rows) {
    t.ok(
      windows.datasets.some((d) => d.label === row[1]),
      `a line for ${row[1]}`,
    );
  }

  const waiting = await drawn(page, 'waiting');
  t.same(
    waiting.labels,
    waiting.rows.map((r) => r[0]),
  );
  t.same(
    waiting.datasets[0]!.data,
    waiting.rows.map((r) => cell(r[1])),
    'waiting: the averages',
  );
  t.equal(waiting.rows.length, 24);

  const fallbacks = await drawn(page, 'fallbacks');
  t.same(
    fallbacks.labels,
    fallbacks.rows.map((r) => r[0]),
  );
  t.ok(fallbacks.rows.length > 0 && fallbacks.rows.length <= 10, 'at most 10 topics');
  for (const d of fallbacks.datasets) {
    t.same(
      d.data,
      fallbacks.rows.map((r) => cell(r[fallbacks.head.indexOf(d.label)])),
      `fallbacks: ${d.label}`,
    );
  }
  t.same(await axeViolations(page), [], '1280 px: no accessibility violations');
  await page.setViewportSize({ width: 390, height: 844 });
  t.same(await axeViolations(page), [], '390 px: no accessibility violations');
  await page.close();
});

t.test('the filters are in the URL, and a table downloads as CSV with small counts as <5', async (t) => {
  const page = await openPage(t, browser, 390);
  await signedIn(page, `${base}/reports/?from=${from}&to=${to}`);
  await page.getByLabel('Topic', { exact: true }).selectOption('chest-pain');
  await page.getByLabel('Interval', { exact: true }).selectOption('week');
  await page.getByRole('button', { name: 'Show reports' }).click();
  await page.waitForSelector('body[data-reports-shown]');
  const url = new URL(page.url());
  t.same(Object.fromEntries(url.searchParams), { from, to, interval: 'week', topic: 'chest-pain' }, 'a link to share');
  await page.reload();
  await page.waitForSelector('body[data-reports-shown]');
  t.equal(await page.getByLabel('Topic', { exact: true }).inputValue(), 'chest-pain', 'the link opens the same report');
  t.equal(await page.getByLabel('Interval', { exact: true }).inputValue(), 'week');

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV: Outcomes per interval' }).click()]);
  const text = await readFile((await download.path())!, 'utf8');
  const [header, ...lines] = text.trim().split('\r\n');
  t.match(header, /^interval_start,started,completed,/);
  t.ok(lines.length > 0);
  t.match(text, /<5/, 'counts from 1 to 4 as <5');
  t.match(download.suggestedFilename(), /^outcomes-intervals-.*\.csv$/);
  t.same(await axeViolations(page), [], 'filtered, 390 px: no accessibility violations');
  await page.close();
});
