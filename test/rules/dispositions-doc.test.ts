import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { DISPOSITIONS_DOC, dispositionsMarkdown } from '../../src/authoring/dispositions.js';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { BUNDLED_RULES, REPO } from '../helpers.js';

t.test('docs/dispositions.md is what the catalogue makes (npm run rules -- dispositions --write)', async (t) => {
  const catalog = await loadRuleCatalog(BUNDLED_RULES);
  const doc = readFileSync(path.join(REPO, DISPOSITIONS_DOC), 'utf8');
  t.equal(doc, dispositionsMarkdown(catalog), 'regenerate it with: npm run rules -- dispositions --write');
  for (const { code } of catalog.dispositions.content.dispositions) t.ok(doc.includes(`| \`${code}\` |`), `${code} is listed`);
});
