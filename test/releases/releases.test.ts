// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import { execFile } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { BASIC_RULES, freshDatabaseUrl, get, post, rawSql, REPO, STAFF, startServer, tempDir, testApp, type TestApp } from '../helpers.js';

const exec = promisify(execFile);
const CLI = path.join(REPO, 'dist/src/cli/triage-rules.js');
const adult = { ageYears: 30, sex: 'female' };
const SELF_CARE_ANSWERS = { emergency: false, severe: false, kind: 'dull', days: 2 };

/**
 * A copy of the basic rules with one edit, self-care only for pain under `days` days, and the
 * scenarios a release needs (the red flag covered, and the self-care rule).
 */
function rulesWith(t: Test, days: number): string {
  const dir = tempDir(t);
  cpSync(BASIC_RULES, dir, { recursive: true });
  const file = path.join(dir, 'sample.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('{ fact: days, operator: lessThan, value: 3 }', `{ fact: days, operator: lessThan, value: ${days} }`));
  writeFileSync(
    path.join(dir, 'sample.scenarios.yaml'),
    [
      'pathway: sample',
      'scenarios:',
      '  - name: emergency',
      '    patient: { ageYears: 30, sex: female }',
      '    answers: [{ emergency: true }]',
      '    expect: { kind: escalate, disposition: ED-999, ruleId: rf-emergency }',
      '  - name: short dull pain',
      '    patient: { ageYears: 30, sex: female }',
      '    answers: [{ emergency: false }, { severe: false }, { kind: dull }, { days: 0 }]',
      '    expect: { kind: self_care, disposition: SC-REST, ruleId: s-short-dull }',
    ].join('\n'),
  );
  return dir;
}

async function record(app: TestApp, dir: string, approver: string | null = 'Dr Safety Officer') {
  const catalog = await loadRuleCatalog(dir);
  return app.releases.record({ author: 'Nurse Author', approver: approver ?? undefined, summary: `self-care threshold from ${dir}`, hazards: ['H-05'], versions: [...catalog.versions.values()], checks: {} });
}

const activate = (app: TestApp, id: string, headers = STAFF.admin) => post(app, `/v1/admin/releases/${id}/activate`, {}, headers);

t.test('going live, refusing unsigned and invalid releases, and rolling back', async (t) => {
  const app = await testApp(t, { rulesDir: BASIC_RULES, env: { RELEASE_REQUIRE_SIGNOFF: 'true' } });
  t.equal((await get(app, '/health/ready')).body.release, null, 'serving the rule files before any release');
  const v1 = await record(app, rulesWith(t, 3));
  const v2 = await record(app, rulesWith(t, 1));
  const unsigned = await record(app, rulesWith(t, 5), null);

  t.equal((await activate(app, v1.id, STAFF.clinician)).status, 403, 'only an admin activates');
  t.match((await activate(app, unsigned.id)).body, { status: 409, detail: /no clinical safety officer sign-off/ });
  t.equal((await activate(app, 'nope')).status, 404);

  t.match((await activate(app, v1.id)).body, { active: v1.id });
  t.equal((await get(app, '/health/ready')).body.release, v1.id);
  t.match((await post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: SELF_CARE_ANSWERS })).body.outcome, { kind: 'self_care' });

  t.match((await activate(app, v2.id)).body, { active: v2.id });
  t.equal((await get(app, '/v1/pathways')).body.pathways[0].versionHash, v2.pathways[0]!.hash, '/v1/pathways shows the active version');
  t.match((await post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: SELF_CARE_ANSWERS })).body.outcome, { kind: 'callback' }, 'v2 is live');

  // An invalid release (its stored content altered) is refused; v2 keeps serving.
  const broken = await record(app, rulesWith(t, 7));
  await rawSql(app, `update rule_set_versions set content = replace(content, '"lessThan"', '"lessThanX"') where hash = '${broken.pathways[0]!.hash}'`);
  t.match((await activate(app, broken.id)).body, { status: 422, detail: /cannot serve/ });
  t.equal((await get(app, '/health/ready')).body.release, v2.id, 'the current release keeps serving');

  // Rolling back is activating the earlier release.
  t.match((await activate(app, v1.id)).body, { active: v1.id });
  t.match((await post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: SELF_CARE_ANSWERS })).body.outcome, { kind: 'self_care' });

  const list = (await get(app, '/v1/admin/releases', STAFF.auditor)).body;
  t.equal(list.active, v1.id);
  const v1Entry = list.releases.find((r: { id: string }) => r.id === v1.id);
  t.match(v1Entry, { signedOff: true, approver: 'Dr Safety Officer', hazards: ['H-05'], active: true });
  t.equal(v1Entry.activations.length, 2, 'each activation is recorded');
  t.match(list.releases.find((r: { id: string }) => r.id === unsigned.id), { signedOff: false, active: false, activations: [] });
  t.equal((await get(app, '/v1/admin/releases', STAFF['call-handler'])).status, 403);
});

t.test('the author cannot sign off their own release', async (t) => {
  const app = await testApp(t, { rulesDir: BASIC_RULES });
  const refused = await record(app, rulesWith(t, 3), 'nurse author').catch((e: unknown) => e);
  t.match(refused, { status: 422, detail: /different person/ });
});

t.test('under load: every request during a switch succeeds, traced with the version it used; assessments keep theirs', async (t) => {
  const app = await testApp(t, { rulesDir: BASIC_RULES });
  const v1 = await record(app, rulesWith(t, 3));
  const v2 = await record(app, rulesWith(t, 1));
  await activate(app, v1.id);
  const inProgress = await post(app, '/v1/assessments', { pathwayId: 'sample', patient: adult });

  const send = () => post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: SELF_CARE_ANSWERS });
  const wave = (n: number) => Promise.all(Array.from({ length: n }, send));
  const before = await wave(40);
  const [switched, during] = await Promise.all([activate(app, v2.id), wave(40)]);
  t.equal(switched.status, 200);
  const after = await wave(40);
  const results = [...before, ...during, ...after];
  t.ok(results.every((r) => r.status === 200), 'all succeeded');
  const hashes = { [v1.pathways[0]!.hash]: 'self_care', [v2.pathways[0]!.hash]: 'callback' };
  let consistent = 0;
  for (const r of results) {
    const trace = (await get(app, `/v1/traces/${r.body.traceId}`)).body;
    if (hashes[trace.pathway.hash] === r.body.outcome.kind) consistent += 1;
  }
  t.equal(consistent, results.length, 'each decision matches the version its trace names');
  const used = new Set<string>();
  for (const r of results) used.add((await get(app, `/v1/traces/${r.body.traceId}`)).body.pathway.hash);
  t.equal(used.size, 2, 'both versions served during the switch');

  // The assessment started on v1 finishes on v1, after v2 went live.
  let step = inProgress.body;
  for (const [questionId, value] of Object.entries(SELF_CARE_ANSWERS)) {
    step = (await post(app, `/v1/assessments/${inProgress.body.id}/answers`, { questionId, value })).body;
  }
  t.match(step.outcome, { kind: 'self_care' }, 'judged by v1 to the end');
  const traces = (await get(app, `/v1/assessments/${inProgress.body.id}/traces`)).body.traces as { pathway: { hash: string } }[];
  t.ok(traces.every((x) => x.pathway.hash === v1.pathways[0]!.hash), 'every step traced with v1');
});

t.test('triage-rules release: checks everything, refuses with reasons, records what passes', async (t) => {
  const db = await freshDatabaseUrl(t);
  const env = { ...process.env, DATABASE_URL: db };
  const run = (args: string[]) => exec(process.execPath, [CLI, ...args], { env, cwd: REPO }).then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => e);

  const good = await run(['release', 'rules', '--author', 'A Clinician', '--approver', 'B Officer', '--summary', 'first release', '--hazards', 'H-01,H-04', '--format', 'json']);
  t.equal(good.code, 0, good.stderr);
  const recorded = JSON.parse(good.stdout).release;
  t.match(recorded, { author: 'A Clinician', approver: 'B Officer', hazards: ['H-01', 'H-04'] });
  t.ok(recorded.pathways.length >= 14);

  t.equal((await run(['release', 'rules', '--author', 'A', '--summary', 's', '--hazards', 'H-99'])).code, 2, 'an unknown hazard is a usage error');
  const self = await run(['release', 'rules', '--author', 'Same Person', '--approver', 'same person', '--summary', 's']);
  t.equal(self.code, 1);
  t.match(self.stderr + self.stdout, /different person/);

  const failing = tempDir(t);
  cpSync(path.join(REPO, 'rules'), failing, { recursive: true });
  const scenarios = path.join(failing, 'chest-pain.scenarios.yaml');
  writeFileSync(scenarios, readFileSync(scenarios, 'utf8').replace('ruleId: cp-crushing-pain-now }', 'ruleId: cp-pain-spreading }'));
  const refused = await run(['release', failing, '--author', 'A', '--approver', 'B', '--summary', 's']);
  t.equal(refused.code, 1);
  t.match(refused.stdout, /release refused:\n  scenario fails: chest-pain: crushing pain now is a possible heart attack/);

  // Past decisions that the candidate would move to self-care must be acknowledged.
  const app = await testApp(t, { rulesDir: BASIC_RULES, env: { DATABASE_URL: db } });
  t.match((await post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: { ...SELF_CARE_ANSWERS, days: 4 } })).body.outcome, { kind: 'callback' });
  await app.close();
  const risky = rulesWith(t, 5);
  const unacknowledged = await run(['release', risky, '--author', 'A', '--approver', 'B', '--summary', 'wider self-care']);
  t.equal(unacknowledged.code, 1);
  t.match(unacknowledged.stdout, /impact: 1 past decisions would move from escalate or callback to self-care/);
  const acknowledged = await run(['release', risky, '--author', 'A', '--approver', 'B', '--summary', 'wider self-care', '--acknowledge-impact', '--hazards', 'H-05']);
  t.equal(acknowledged.code, 0, acknowledged.stdout);
});

t.test('SIGHUP activates the release named in RELEASE_ID_FILE without a restart', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'x.db');
  const idFile = path.join(dir, 'release-id');
  const { child, base } = await startServer(t, { DATABASE_URL: db, RULES_DIR: BASIC_RULES, RELEASE_ID_FILE: idFile, RELEASE_REQUIRE_SIGNOFF: 'true' });
  const recorded = await exec(process.execPath, [CLI, 'release', rulesWith(t, 3), '--author', 'A', '--approver', 'B', '--summary', 'via SIGHUP', '--format', 'json'], { env: { ...process.env, DATABASE_URL: db }, cwd: REPO }).catch((e: { stdout: string }) => e);
  const id = JSON.parse(recorded.stdout).release.id as string;
  writeFileSync(idFile, `${id}\n`);
  child.kill('SIGHUP');
  let release: string | null = null;
  for (let i = 0; i < 50 && release !== id; i++) {
    await new Promise((r) => setTimeout(r, 100));
    release = ((await (await fetch(`${base}/health/ready`)).json()) as { release: string | null }).release;
  }
  t.equal(release, id, 'the running service switched to the release');
  const list = (await (await fetch(`${base}/v1/admin/releases`, { headers: STAFF.admin })).json()) as { releases: { activations: { by: string }[] }[] };
  t.same(list.releases[0]!.activations.map((a) => a.by), ['SIGHUP']);
});
