import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';
import t from 'tap';
import { REPO, testApp } from '../helpers.js';

// /docs (Swagger UI over the document) in Chromium: no CSP violation, an Authorize button for the
// three security schemes, and only the axe violations docs/api.md lists as Swagger UI's own.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM) && process.env.CI !== 'true') {
  t.skip(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH) to run the browser tests`, () => undefined);
  process.exit(0);
}
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The rule ids docs/api.md lists under "Swagger UI's own accessibility problems". */
function documentedViolations(): string[] {
  const text = readFileSync(path.join(REPO, 'docs/api.md'), 'utf8');
  const section = text.split("### Swagger UI's own accessibility problems")[1]?.split('\n## ')[0] ?? '';
  return [...section.matchAll(/^- `([a-z0-9-]+)`/gm)].map((m) => m[1]!).sort();
}

t.test('/docs: no CSP violation, Authorize for the three schemes, only the documented axe violations', async (t) => {
  const app = await testApp(t);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const violations: string[] = [];
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  page.on('pageerror', (err) => violations.push(`page error: ${err.message}`));
  // Injected by the debugging protocol, so the page's CSP does not stop it listening.
  await page.addInitScript("window.cspViolations = []; document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));");
  await page.goto(`${base}/docs`);
  await page
    .getByRole('button', { name: /Authorize/ })
    .first()
    .waitFor({ timeout: 15_000 });
  await page.locator('.opblock').first().waitFor();
  violations.push(...((await page.evaluate('window.cspViolations')) as string[]));
  t.same(violations, [], 'no CSP violation');

  await page
    .getByRole('button', { name: /Authorize/ })
    .first()
    .click();
  const dialog = page.locator('.modal-ux');
  await dialog.waitFor();
  const schemes = await dialog.locator('.auth-container h4').allTextContents();
  t.same(schemes.map((s) => s.replace(/\s*\(.*\)\s*$/, '').trim()).sort(), ['apiKey', 'assessmentToken', 'bearer']);

  // With the dialog open, as the list in docs/api.md was made (its label-content-name-mismatch is
  // the dialog's). Escape does not close Swagger UI's dialog: waiting for it to go cost 30 s.
  await page.evaluate(AXE_SOURCE);
  const found = (await page.evaluate("axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }).then((r) => r.violations.map((v) => v.id))")) as string[];
  t.comment(`Swagger UI's axe violations: ${found.join(', ')}`);
  t.same([...found].sort(), documentedViolations(), "Swagger UI's own axe violations are the ones docs/api.md lists");
});
