import t from 'tap';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { loadScenarioFiles } from '../../src/rulesets/scenarios.js';
import { BUNDLED_RULES, offThread, THOROUGH } from '../helpers.js';
import type { SafetyWalks } from './safety-walks.js';

/**
 * Safety properties of the bundled clinical content, beyond each scenario's expected outcome:
 * nothing that should escalate is ever told to self-care, and every global red flag escalates
 * from any point in every pathway.
 */
const catalog = await loadRuleCatalog(BUNDLED_RULES);
const files = await loadScenarioFiles(BUNDLED_RULES);
const EMERGENCY = catalog.redFlags.content.questions[0]!;
// The thousands of decisions, on a thread of their own (see offThread), while the checks below read the catalog.
const walks = offThread<SafetyWalks>(new URL('./safety-walks.js', import.meta.url), 'walkSafety', BUNDLED_RULES, THOROUGH);

t.test('the catch-all is covered, and every module is included by a pathway with scenarios', async (t) => {
  const catchAll = catalog.pathways.find((p) => p.content.catchAll);
  t.ok(catchAll && files.some((f) => f.pathway === catchAll.content.id), 'the catch-all has scenarios');
  for (const module of catalog.modules) {
    const including = [...catalog.versions.values()].filter((v) => v.modules.some((m) => m.id === module.content.id));
    t.ok(
      including.some((v) => files.some((f) => f.pathway === v.id)),
      `module ${module.content.id}: the red-flag walks below run through it (included by ${including.map((v) => v.id).join(', ') || 'no pathway'})`,
    );
  }
});

t.test('no scenario expecting escalation is answered with self-care at any step', async (t) => {
  const { checked, selfCare } = (await walks).escalations;
  for (const found of selfCare) t.fail(found);
  t.ok(checked > 50, `${checked} steps checked`);
});

t.test('every global red flag escalates from any point in every pathway', async (t) => {
  const flags = 'options' in EMERGENCY ? EMERGENCY.options.filter((o) => !o.exclusive) : [];
  t.ok(flags.length >= 5, 'the global red flags are offered as options');
  for (const { pathway, checked, failures } of (await walks).redFlags) {
    t.equal(failures, 0, `${pathway}: ${checked} combinations of a red flag with answers so far all escalate`);
  }
});

t.test('pathway red-flag rules escalate, and every pathway rule set has a conservative fallback', async (t) => {
  for (const version of catalog.versions.values()) {
    for (const { rule, outcome, module } of version.rules.filter((r) => r.scope !== 'global_red_flag' && r.rule.redFlag)) {
      t.equal(outcome.kind, 'escalate', `${version.id}: red flag ${rule.id}${module ? ` (module ${module})` : ''} escalates`);
    }
    t.not(version.fallback.outcome.kind, 'self_care', `${version.id}: fallback is ${version.fallback.outcome.kind}`);
  }
});

t.test('every self-care outcome carries safety-netting', async (t) => {
  for (const version of catalog.versions.values()) {
    for (const file of [version.definition.pathway, ...(version.definition.modules ?? [])]) {
      for (const [id, outcome] of Object.entries(file.outcomes)) {
        if (outcome.kind === 'self_care') {
          t.ok((outcome.safetyNetting ?? '').length > 20, `${version.id}: ${file.id}: ${id} tells people when to seek help`);
        }
      }
    }
  }
});
