import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { run as rules } from '../../src/cli/triage-rules.js';
import { run as traces } from '../../src/cli/traces.js';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { loadScenarioFiles, scenarioAnswers } from '../../src/rulesets/scenarios.js';
import { unbumpedChanges } from '../../src/releases/version-bump.js';
import { openStore } from '../../src/store/store.js';
import { post, REPO, runCli, tempDir, testApp } from '../helpers.js';

/**
 * Modules through every tool (issue 26): a module is written once and included by three
 * pathways of test/fixtures/module-rules; an edit to it is an edit to each of them.
 */
const MODULE_RULES = path.join(REPO, 'test/fixtures/module-rules');
const INCLUDING = ['ear-adult', 'ear-child', 'elsewhere'];

const db = path.join(tempDir(t), 'triage.db');
const env = { DATABASE_URL: db };
const app = await testApp(t, { rulesDir: MODULE_RULES, env });
const traceIds: string[] = [];
for (const file of await loadScenarioFiles(MODULE_RULES)) {
  for (const scenario of file.scenarios) {
    const answers = Object.fromEntries(scenarioAnswers(scenario).map((a) => [a.questionId, a.value]));
    const res = await post(app, '/v1/triage', { pathwayId: file.pathway, patient: scenario.patient, answers });
    traceIds.push(res.body.traceId);
  }
}
await app.close();

/** The fixture with the module's question reworded: content changed, version as given. */
function editedModule(version: string): string {
  const dir = tempDir(t);
  cpSync(MODULE_RULES, dir, { recursive: true });
  const file = path.join(dir, 'screen.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('text: Floppy or hard to wake?', 'text: Floppy, or very hard to wake?').replace('version: 1.0.0', `version: ${version}`));
  return dir;
}

t.test('validate, lint, scenarios and coverage take the module in', async (t) => {
  for (const command of ['validate', 'scenarios', 'coverage']) {
    const res = await runCli(rules, [command, MODULE_RULES]);
    t.equal(res.code, 0, `${command}: ${res.stdout}`);
  }
  t.match((await runCli(rules, ['coverage', MODULE_RULES])).stdout, /module screen: rules 1\/1 \(100%\), included by ear-adult, ear-child, elsewhere/);
  const lint = await runCli(rules, ['lint', MODULE_RULES]);
  t.notMatch(lint.stdout, /screen\.yaml:\d+:\d+:/, 'no finding in the module');
});

t.test('a trace names each module version it ran with, and replays', async (t) => {
  const exported = await runCli(traces, ['export'], { env });
  const bodies = exported.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.equal(bodies.length, traceIds.length);
  t.ok(
    bodies.every((b) => INCLUDING.includes(b.pathway.id) && b.pathway.modules?.[0]?.id === 'screen' && b.pathway.modules[0].version === '1.0.0'),
    'every trace names screen 1.0.0',
  );
  const floppy = bodies.find((b) => b.result.outcome?.ruleId === 'scr-floppy');
  t.match(
    floppy.evaluation.rules.find((r: { ruleId: string }) => r.ruleId === 'scr-floppy'),
    { scope: 'module', module: 'screen', fired: true },
  );
  for (const id of [traceIds[0]!, floppy.id]) {
    const replayed = await runCli(traces, ['replay', id], { env });
    t.equal(replayed.code, 0, replayed.stdout);
    t.match(replayed.stdout, /^identical:/);
  }
  const explained = await runCli(rules, ['explain', 'ear-adult', '--dir', MODULE_RULES, '--age', '30', '--sex', 'male', '--answers', '{"emergency":false,"ear_pain":"unsure","scr_floppy":true}']);
  t.match(explained.stdout, /rule scr-floppy 'Floppy' \(module screen\) fired/);
  t.match(explained.stdout, /Counted 'not sure' to ear_pain as 'severe'/);
});

t.test('a module edit changes every pathway that includes it: diff and impact say which', async (t) => {
  const candidate = editedModule('1.1.0');
  const before = await loadRuleCatalog(MODULE_RULES);
  const after = await loadRuleCatalog(candidate);
  for (const id of INCLUDING) t.not(after.versions.get(id)!.hash, before.versions.get(id)!.hash, `${id} is a new version`);

  const diff = await runCli(rules, ['diff', MODULE_RULES, candidate]);
  t.match(diff.stdout, /changed module screen\n {2}changes the pathways that include it: ear-adult, ear-child, elsewhere\n {2}version: "1\.0\.0" -> "1\.1\.0"\n {2}changed question scr_floppy/);

  const impact = await runCli(rules, ['impact', candidate, '--format', 'json'], { env });
  t.equal(impact.code, 0, impact.stdout);
  const report = JSON.parse(impact.stdout);
  t.same(
    report.pathways.map((p: { pathway: string }) => p.pathway),
    INCLUDING,
  );
  for (const p of report.pathways) {
    t.match(p, { changed: true, candidate: { modules: [{ id: 'screen', version: '1.1.0' }] }, counts: { down: 0, up: 0 } }, `${p.pathway}: a new version, no outcome moved`);
  }
  const unchanged = JSON.parse((await runCli(rules, ['impact', MODULE_RULES, '--format', 'json'], { env })).stdout);
  t.ok(
    unchanged.pathways.every((p: { changed: boolean }) => !p.changed),
    'the rules as served: nothing changed',
  );
});

t.test('a release refuses a module changed without a version bump', async (t) => {
  const store = await openStore(db);
  t.teardown(() => store.close());
  const unbumped = await unbumpedChanges(store.read, await loadRuleCatalog(editedModule('1.0.0')));
  t.match(unbumped, [/screen\.yaml: module screen version 1\.0\.0 changed without a version bump/]);
  t.equal(unbumped.length, 1, 'said once, not once per pathway');
  t.same(await unbumpedChanges(store.read, await loadRuleCatalog(editedModule('1.0.1'))), [], 'bumped: fine');
});
