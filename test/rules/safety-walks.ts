import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { loadScenarioFiles, scenarioAnswers } from '../../src/rulesets/scenarios.js';
import type { Answer } from '../../src/triage/answers.js';
import { Triage } from '../../src/triage/triage.js';

/** What safety.test.ts asserts on, walked on a thread of its own (offThread in test/helpers.ts). */
export interface SafetyWalks {
  /** Steps of the scenarios expecting escalation, and each one decided as self-care. */
  escalations: { checked: number; selfCare: string[] };
  /** Per scenario file: combinations of a red flag with answers so far, and how many did not escalate through it. */
  redFlags: { pathway: string; checked: number; failures: number }[];
}

export async function walkSafety(rulesDir: string, thorough: boolean): Promise<SafetyWalks> {
  const catalog = await loadRuleCatalog(rulesDir);
  const files = await loadScenarioFiles(rulesDir);
  const triage = new Triage(catalog.versions.values(), { timeoutMs: 2000 });
  const EMERGENCY = catalog.redFlags.content.questions[0]!;

  const escalations = { checked: 0, selfCare: [] as string[] };
  for (const file of files) {
    const version = catalog.versions.get(file.pathway)!;
    for (const scenario of file.scenarios.filter((s) => s.expect.kind === 'escalate')) {
      const answers = scenarioAnswers(scenario) as Answer[];
      for (let n = 0; n <= answers.length; n++) {
        const d = await triage.decide(version, scenario.patient, answers.slice(0, n));
        escalations.checked += 1;
        if (d.status === 'complete' && d.outcome.kind === 'self_care') {
          escalations.selfCare.push(`${file.pathway}: "${scenario.name}" gets self_care after ${n} answers`);
        }
      }
    }
  }

  const flags = 'options' in EMERGENCY ? EMERGENCY.options.filter((o) => !o.exclusive) : [];
  const redFlags: SafetyWalks['redFlags'] = [];
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
      for (const n of new Set([0, ...(thorough ? [Math.floor(answers.length / 2)] : []), answers.length])) {
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
    redFlags.push({ pathway: file.pathway, checked, failures });
  }
  return { escalations, redFlags };
}
