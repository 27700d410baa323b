import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Test } from 'tap';

/** Debian's Chromium for the browser suites, and axe-core to check pages with. */

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Chromium, closed when the test ends; undefined (the suite skipped, with how to get it) when
 * there is none. CI installs Chromium (.ci/run) and must run these suites.
 */
export async function launchChromium(t: Test): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM) && process.env.CI !== 'true') {
    t.skip(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH) to run the browser tests`, () => undefined);
    return undefined;
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  t.teardown(() => browser.close());
  return browser;
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

/** Fails the test on any script error or Content Security Policy violation in the page. */
export function watchPage(t: Test, page: Page): void {
  page.on('pageerror', (err) => t.fail(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) t.fail(`CSP violation: ${msg.text()}`);
  });
}
