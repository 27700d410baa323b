import t from 'tap';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { loadScenarioFiles, scenarioAnswers } from '../../src/rulesets/scenarios.js';
import type { Answer } from '../../src/triage/answers.js';
import { Triage } from '../../src/triage/triage.js';
import { BUNDLED_RULES, THOROUGH } from '../helpers.js';

/**
 * Safety properties of the bundled clinical content, beyond each scenario's expected outcome:
 * nothing that should escalate is ever told to self-care, and every global red flag escalates
 * from any point in every pathway.
 */
const catalog = await loadRuleCatalog(BUNDLED_RULES);
const files = await loadScenarioFiles(BUNDLED_RULES);
const triage = new Triage(catalog.versions.values(), { timeoutMs: 2000 });
const EMERGENCY = catalog.redFlags.content.questions[0]!;

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
  let checked = 0;
  for (const file of files) {
    const version = catalog.versions.get(file.pathway)!;
    for (const scenario of file.scenarios.filter((s) => s.expect.kind === 'escalate')) {
      const answers = scenarioAnswers(scenario) as Answer[];
      for (let n = 0; n <= answers.length; n++) {
        const d = await triage.decide(version, scenario.patient, answers.slice(0, n));
        checked += 1;
        if (d.status === 'complete' && d.outcome.kind === 'self_care') {
          t.fail(`${file.pathway}: "${scenario.name}" gets self_care after ${n} answers`);
        }
      }
    }
  }
  t.ok(checked > 50, `${checked} steps checked`);
});

t.test('every global red flag escalates from any point in every pathway', async (t) => {
  const flags = 'options' in EMERGENCY ? EMERGENCY.options.filter((o) => !o.exclusive) : [];
  t.ok(flags.length >= 5, 'the global red flags are offered as options');
  for (const file of files) {
    const version = catalog.versions.get(file.pathway)!;
    let failures = 0;
    let checked = 0;
    const walked = new Set<string>();
    for (const scenario of file.scenarios) {
      const answers = (scenarioAnswers(scenario) as Answer[]).filter((a) => a.questionId !== EMERGENCY.id);
      // A red flag outranks every pathway rule, so what can differ between points is only what the
      // answers so far settle: the start and the end of each walk cover it (the middle, too, with
      // TEST_THOROUGH=1), each distinct patient and answers once.
      for (const n of new Set([0, ...(THOROUGH ? [Math.floor(answers.length / 2)] : []), answers.length])) {
        const key = JSON.stringify([scenario.patient, answers.slice(0, n)]);
        if (walked.has(key)) continue;
        walked.add(key);
        for (const flag of flags) {
          const d = await triage.decide(version, scenario.patient, [{ questionId: EMERGENCY.id, value: [flag.value] }, ...answers.slice(0, n)]);
          checked += 1;
          const rule = d.status === 'complete' ? version.rules.find((r) => r.rule.id === d.outcome.ruleId) : undefined;
          if (d.status !== 'complete' || d.outcome.kind !== 'escalate' || rule?.scope !== 'global_red_flag') {
            failures += 1;
          }
        }
      }
    }
    t.equal(failures, 0, `${file.pathway}: ${checked} combinations of a red flag with answers so far all escalate`);
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
