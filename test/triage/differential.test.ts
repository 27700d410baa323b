import t from 'tap';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { loadScenarioFiles } from '../../src/rulesets/scenarios.js';
import { DECISION_SEMANTICS } from '../../src/triage/settled.js';
import { BUNDLED_RULES, offThread, sampledScenarios, THOROUGH } from '../helpers.js';
import type { DifferentialRuns } from './differential-runs.js';

/**
 * The proof the performance issue asks for: evaluating only the rules a decision needs
 * (`needed`) must not change a single decision or trace outcome against handing every rule to
 * json-rules-engine (`all`), over every scenario step and many random answer sets per pathway.
 */
const catalog = await loadRuleCatalog(BUNDLED_RULES);
const versions = [...catalog.versions.values()];
// The runs are spread over the content: with ~80 pathway versions, a fixed count per pathway made
// this file the slowest in the suite. TEST_THOROUGH=1 restores the full count (fast-check seeds
// differ per run, so ordinary runs still explore new answer sets over time).
const RANDOM_SETS_PER_PATHWAY = THOROUGH ? 500 : Math.max(15, Math.ceil(1500 / versions.length));

// Compared on a thread of their own (see offThread); each test below asserts on its part.
const runs = offThread<DifferentialRuns>(
  new URL('./differential-runs.js', import.meta.url),
  'runDifferential',
  BUNDLED_RULES,
  sampledScenarios(await loadScenarioFiles(BUNDLED_RULES)),
  THOROUGH,
  RANDOM_SETS_PER_PATHWAY,
);

for (const semantics of DECISION_SEMANTICS) {
  t.test(`${semantics}: every step of sampled scenarios: the same decision and trace outcome either way`, async (t) => {
    const { steps, differing } = (await runs).scenarios.find((r) => r.semantics === semantics)!;
    for (const found of differing) t.fail(found);
    t.ok(steps > 500, `${steps} scenario steps compared`);
  });
}

for (const version of versions) {
  t.test(`${version.id}: ${RANDOM_SETS_PER_PATHWAY} random answer sets decide the same either way`, async (t) => {
    const { failure, skipped, evaluated } = (await runs).random.find((r) => r.id === version.id)!;
    if (failure) throw new Error(failure);
    t.pass(`agreed on all ${RANDOM_SETS_PER_PATHWAY}; ${skipped} rule evaluations skipped, ${evaluated} made`);
    t.ok(skipped > 0, 'the comparison covered skipped rules');
  });
}
