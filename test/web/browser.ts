import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Test } from 'tap';
import { REPO } from '../helpers.js';

/**
 * What the browser test files share: Debian's Chromium driven by playwright-core (one browser
 * per file), the axe-core check, and page helpers. Screenshots go to test-output/screenshots.
 */
export const SHOTS = path.join(REPO, 'test-output/screenshots');
mkdirSync(SHOTS, { recursive: true });

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Chromium, or a clear skip for a newcomer without it (CI installs it and must run these). */
export async function launch(t: Test): Promise<Browser> {
  if (!existsSync(CHROMIUM) && process.env.CI !== 'true') {
    t.skip(`no Chromium at ${CHROMIUM}: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH) to run the browser tests`, () => undefined);
    process.exit(0);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  t.teardown(() => browser.close());
  return browser;
}

/** The phone and desktop widths every page is checked at. */
export const WIDTHS = [390, 1280] as const;

/**
 * A page that fails the test on a script error, a CSP violation or any failed request (a 404
 * favicon included): what a person would see as a broken page, or the console would log.
 */
export async function openPage(t: Test, browser: Browser, width = 1280): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  page.on('pageerror', (err) => t.fail(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // Not ours: the API's own 4xx answers (a refused claim, a bad phone number), which Chromium
    // logs too, and the NHS fonts from assets.nhs.uk, out of reach where tests run offline.
    const url = msg.location().url;
    const ours = !url || (new URL(url).origin === new URL(page.url()).origin && !url.includes('/v1/'));
    if ((msg.type() === 'error' && ours) || /Content Security Policy/i.test(msg.text())) t.fail(`browser console: ${msg.text()}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400 && !res.url().includes('/v1/')) t.fail(`${res.status()} for ${res.url()}`);
  });
  return page;
}

/** Accessibility problems axe-core finds on the page as it is now (WCAG 2.1 A and AA, best practice). */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated by the browser's debugging protocol, which the page's CSP does not govern.
  await page.evaluate(AXE_SOURCE);
  // A string: it runs in the page, where axe is now defined (this project has no DOM types).
  const violations = (await page.evaluate("axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }).then((r) => r.violations)")) as {
    id: string;
    nodes: { target: string[] }[];
  }[];
  return violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** axe at both widths: the page as it is now, resized, checked, and put back. */
export async function axeAtWidths(t: Test, page: Page, what: string): Promise<void> {
  const before = page.viewportSize()!;
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    t.same(await axeViolations(page), [], `${what} at ${width} px: no accessibility violations`);
  }
  await page.setViewportSize(before);
}

/** The text of what has focus, and its tag. */
export async function focused(page: Page): Promise<{ tag: string; text: string; id: string }> {
  return page.evaluate('({ tag: document.activeElement.tagName.toLowerCase(), text: document.activeElement.textContent.trim(), id: document.activeElement.id })') as Promise<{
    tag: string;
    text: string;
    id: string;
  }>;
}

/** Presses Tab (Shift+Tab, back) until the focused element's text or label matches, as a keyboard user would. */
export async function tabTo(page: Page, pattern: RegExp, { back = false, limit = 60 } = {}): Promise<void> {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    const label = (await page.evaluate("(() => { const e = document.activeElement; return (e.labels && e.labels[0] ? e.labels[0].textContent : e.textContent || e.value || '').trim(); })()")) as string;
    if (pattern.test(label)) return;
  }
  throw new Error(`${pattern} not reached by Tab`);
}

/** Waits for the page's h1 to read this (each step re-renders after an API call). */
export async function heading(page: Page, text: string | RegExp): Promise<string> {
  await page
    .locator('h1', { hasText: text })
    .first()
    .waitFor({ timeout: 10_000 })
    .catch(() => undefined);
  return (await page.locator('h1').first().textContent())?.replace(/\s+/g, ' ').trim() ?? '';
}
