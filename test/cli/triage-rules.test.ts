import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { run } from '../../src/cli/triage-rules.js';
import { loadScenarioFiles, scenarioAnswers } from '../../src/rulesets/scenarios.js';
import { BASIC_RULES, BUNDLED_RULES, bundledRules, post, REPO, runCli, spawnCli, tempDir, testApp } from '../helpers.js';

const LINT_RULES = path.join(REPO, 'test/fixtures/lint-rules');
const cli = (args: string[], options?: { env?: Record<string, string>; cwd?: string }) => runCli(run, args, options);

t.test('the installed command: findings exit 1, usage errors exit 2, output on stdout and stderr', async (t) => {
  const findings = await spawnCli('triage-rules', ['lint', LINT_RULES]);
  t.equal(findings.code, 1);
  t.match(findings.stdout, /error shadowed-rule: /);
  const usage = await spawnCli('triage-rules', ['frobnicate']);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /^usage: triage-rules <command> \[options\]/);
});

function copyRules(t: Test, from = BASIC_RULES): string {
  const dir = tempDir(t);
  cpSync(from, dir, { recursive: true });
  return dir;
}

/**
 * bundledRules with only chest pain's scenarios and the red flags' (which name chest pain), for
 * what is not about the catch-all: its many scenarios are npm test's (triage-rules test and
 * coverage on every pathway).
 */
function scenariosOfChestPain(t: Test): string {
  const dir = bundledRules(t);
  rmSync(path.join(dir, 'something-else.scenarios.yaml'));
  return dir;
}

function edit(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  if (!text.includes(from)) throw new Error(`${from} not in ${file}`);
  writeFileSync(file, text.replace(from, to));
}

t.test('usage errors exit 2', async (t) => {
  t.equal((await cli([])).code, 2);
  t.equal((await cli(['frobnicate'])).code, 2);
  t.equal((await cli(['lint', '--format', 'xml'])).code, 2);
  t.equal((await cli(['diff', 'only-one'])).code, 2);
  t.equal((await cli(['coverage', '--min-rules', 'lots'])).code, 2);
  t.equal((await cli(['explain', 'chest-pain'])).code, 2);
  t.equal((await cli(['--help'])).code, 0);
});

t.test('lint: every kind of semantic finding, located, with a code and a severity', async (t) => {
  const res = await cli(['lint', LINT_RULES, '--format', 'json']);
  t.equal(res.code, 1);
  const findings = JSON.parse(res.stdout).findings as { line: number; column: number; severity: string; code: string; message: string }[];
  const text = readFileSync(path.join(LINT_RULES, 'findings.yaml'), 'utf8').split('\n');
  const lineOf = (needle: string) => text.findIndex((l) => l.includes(needle)) + 1;
  const byCode = (code: string) => findings.filter((f) => f.code === code);
  t.match(byCode('review-overdue'), [{ severity: 'warning', line: lineOf('reviewBy: 2020-01-01') }]);
  t.same(
    byCode('unused-question').map((f) => [f.severity, f.line]),
    [
      ['warning', lineOf('- id: impossible')],
      ['warning', lineOf('- id: unused_q')],
    ],
  );
  t.match(byCode('never-asked'), [{ severity: 'error', message: /question impossible can never be asked/ }]);
  t.same(
    byCode('never-fires').map((f) => f.message.split(' ')[1]),
    ['f-contradiction', 'f-left-but-dull'],
    'self-contradiction and contradiction with askWhen',
  );
  t.match(byCode('shadowed-rule'), [{ message: /f-severe-recent can never decide: f-severe \(higher priority\) fires whenever it does/ }]);
  t.match(byCode('conflicting-rules'), [{ message: /f-long-a and f-long-b have identical conditions but different outcomes/ }]);
  t.same(
    byCode('priority-band')
      .map((f) => f.message.split(' ')[1])
      .sort(),
    ['f-contradiction', 'f-left-but-dull', 'f-long-a', 'f-severe-recent', 'rf-emergency'],
    "priorities outside their outcome's band",
  );
  t.match(byCode('priority-band'), [{ severity: 'warning', message: /rf-emergency has priority 1, outside the 999 band \(900-999\) of its outcome call-999/ }]);
  const waits = text.findIndex((l) => l.includes('- id: f-waits'));
  t.match(byCode('waits-for-answer'), [{ severity: 'warning', line: waits + 9, message: /rule f-waits: this condition holds whatever the answer to days, so it only waits for it to be asked/ }]);
  t.notOk(
    findings.some((f) => /f-sharp-right|f-severe\b[^-]/.test(f.message) && f.code !== 'shadowed-rule'),
    'sound rules raise nothing',
  );
  const human = await cli(['lint', LINT_RULES]);
  t.match(human.stdout, /test\/fixtures\/lint-rules\/findings\.yaml:\d+:\d+: error shadowed-rule: /);
});

t.test('lint: two questions worded the same in one pathway as it runs (red flags included) are a warning', async (t) => {
  const duplicates = async (dir: string) =>
    (JSON.parse((await cli(['lint', dir, '--format', 'json'])).stdout).findings as { file: string; line: number; severity: string; code: string; message: string }[]).filter(
      (f) => f.code === 'duplicate-question-text',
    );
  t.same(await duplicates(BASIC_RULES), [], 'distinct wording raises nothing');

  const dir = copyRules(t);
  const sample = path.join(dir, 'sample.yaml');
  edit(sample, 'text: Where is the sharp pain?', 'text: "  is IT   severe? "');
  edit(sample, 'text: For how many days?', 'text: Any Emergency?');
  const lineOf = (needle: string) =>
    readFileSync(sample, 'utf8')
      .split('\n')
      .findIndex((l) => l.includes(needle)) + 1;
  const found = await duplicates(dir);
  t.match(found, [
    { file: /sample\.yaml$/, line: lineOf('is IT   severe?'), severity: 'warning', message: /^question sharp_where has the same text as question severe: / },
    { file: /sample\.yaml$/, line: lineOf('Any Emergency?'), severity: 'warning', message: /^question days has the same text as question emergency \(\S*red-flags\.yaml\): / },
  ]);
  t.equal(found.length, 2, 'one finding per later question, at its text');
});

t.test('lint reports what loading refuses: a self-care outcome without safety-netting, no global red flags', async (t) => {
  const dir = copyRules(t);
  edit(path.join(dir, 'sample.yaml'), ' safetyNetting: Call 111 if it gets worse.', '');
  const res = await cli(['lint', dir, '--format', 'json']);
  t.equal(res.code, 1);
  t.match(JSON.parse(res.stdout).findings, [{ code: 'schema', message: /self_care outcome must say when to seek help/ }]);
  const bare = tempDir(t);
  cpSync(path.join(BASIC_RULES, 'sample.yaml'), path.join(bare, 'sample.yaml'));
  const none = await cli(['lint', bare]);
  t.equal(none.code, 1);
  t.match(none.stdout, /no global_red_flags file: every pathway must be checked against the global red flags/);
});

t.test('test: a pass/fail line per scenario, and the difference on failure', async (t) => {
  const ok = await cli(['test', scenariosOfChestPain(t)]);
  t.equal(ok.code, 0);
  t.match(ok.stdout, /^pass chest-pain: crushing pain now is a possible heart attack$/m);
  const dir = scenariosOfChestPain(t);
  edit(
    path.join(dir, 'chest-pain.scenarios.yaml'),
    'expect: { kind: escalate, disposition: ED-999-CARDIAC, ruleId: cp-crushing-pain-now }',
    'expect: { kind: callback, disposition: CB-URGENT, ruleId: cp-crushing-pain-now }',
  );
  const bad = await cli(['test', dir]);
  t.equal(bad.code, 1);
  t.match(
    bad.stdout,
    /FAIL chest-pain: crushing pain now is a possible heart attack\n\s+expected \{"kind":"callback","disposition":"CB-URGENT","ruleId":"cp-crushing-pain-now"\}, got \{"kind":"escalate","disposition":"ED-999-CARDIAC","ruleId":"cp-crushing-pain-now"\}/,
  );
  t.match(bad.stdout, /\d+ passed, 1 failed/);

  // An age the API refuses (422) cannot be a scenario either.
  const impossible = scenariosOfChestPain(t);
  const scenarios = path.join(impossible, 'chest-pain.scenarios.yaml');
  writeFileSync(scenarios, readFileSync(scenarios, 'utf8').replace(/ageYears: \d+/, 'ageYears: 130'));
  const refused = await cli(['test', impossible]);
  t.equal(refused.code, 1);
  t.match(refused.stdout + refused.stderr, /an age of 130 is not possible: give the age in whole years, 120 at most/);
});

t.test('coverage: rules, questions and outcomes per pathway; thresholds fail it', async (t) => {
  // The bundled rules' own coverage is npm test's gate; here, chest pain with what every set holds
  // (the modules no pathway of this copy includes are reported, and fail it).
  const full = await cli(['coverage', bundledRules(t), '--format', 'json']);
  const report = JSON.parse(full.stdout);
  t.match(report.pathways, [
    { pathway: 'chest-pain', rulePercent: 100, questions: { missed: [] }, outcomes: { missed: [] } },
    { pathway: 'something-else', rulePercent: 100 },
  ]);
  t.same(report.globalRedFlags.missed, []);
  t.match(report.failures, [/^module limb-injury: red-flag rule li-serious-accident is not covered by any scenario of a pathway that includes it$/]);
  t.equal(full.code, 1);

  // Remove the scenario that covers a red-flag rule: coverage must fail, naming it.
  const dir = scenariosOfChestPain(t);
  const file = path.join(dir, 'chest-pain.scenarios.yaml');
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf('  - name: pain spreading to the jaw');
  const end = text.indexOf('  - name: pain with sweating');
  writeFileSync(file, text.slice(0, start) + text.slice(end));
  const missing = await cli(['coverage', dir]);
  t.equal(missing.code, 1);
  t.match(missing.stdout, /chest-pain: rules 8\/9 \(88\.9%\)/);
  t.match(missing.stdout, /FAIL chest-pain: red-flag rule cp-pain-spreading is not covered by any scenario/);

  // A threshold: from the command line, or from the rule file.
  const basic = copyRules(t);
  writeFileSync(
    path.join(basic, 'sample.scenarios.yaml'),
    'pathway: sample\nscenarios:\n  - name: severe\n    patient: { ageYears: 30, sex: female }\n    answers:\n      - emergency: false\n      - severe: true\n      - kind: dull\n    expect: { kind: callback, disposition: CB-2H, ruleId: s-severe }\n',
  );
  t.equal((await cli(['coverage', basic])).code, 1, 'the uncovered global red flag fails it');
  const cmd = await cli(['coverage', basic, '--min-rules', '50']);
  t.match(cmd.stdout, /sample: rules 1\/4 \(25%\)/);
  t.match(cmd.stdout, /FAIL sample: rule coverage 25% is below the threshold of 50%/);
  edit(path.join(basic, 'sample.yaml'), 'fallback: callback', 'fallback: callback\nminRuleCoverage: 80');
  t.match((await cli(['coverage', basic])).stdout, /below the threshold of 80%/);
});

t.test('diff: two directories, field by field', async (t) => {
  const before = copyRules(t);
  const after = copyRules(t);
  const file = path.join(after, 'sample.yaml');
  edit(file, '{ fact: days, operator: lessThan, value: 3 }', '{ fact: days, operator: lessThan, value: 2 }');
  edit(file, 'version: 1.0.0', 'version: 1.1.0');
  edit(file, '  - id: days\n', '  - id: fever\n    text: Any fever?\n    type: yes_no\n  - id: days\n');
  const res = await cli(['diff', before, after, '--format', 'json']);
  t.equal(res.code, 0);
  const [change] = JSON.parse(res.stdout).changes;
  t.match(change, { id: 'sample', change: 'changed', fields: [{ field: 'version', before: '1.0.0', after: '1.1.0' }] });
  t.match(
    change.items,
    [
      { kind: 'rule', id: 's-short-dull', change: 'changed', fields: [{ field: 'conditions' }] },
      { kind: 'question', id: 'fever', change: 'added' },
    ].sort((a, b) => (a.kind === 'question' ? -1 : b.kind === 'question' ? 1 : 0)),
  );
  const text = await cli(['diff', before, after]);
  t.match(text.stdout, /changed sample\n {2}version: "1\.0\.0" -> "1\.1\.0"/);
  t.match(text.stdout, / {2}changed rule s-short-dull\n {4}conditions: .*"value":3.* -> .*"value":2/);
  t.match((await cli(['diff', before, before])).stdout, /^no changes$/m);
});

t.test('diff: two git revisions', async (t) => {
  const repo = tempDir(t);
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=t@example.org', '-c', 'user.name=t', ...args], { cwd: repo });
  git('init', '-q');
  cpSync(BASIC_RULES, path.join(repo, 'rules'), { recursive: true });
  git('add', '.');
  git('commit', '-qm', 'one');
  edit(path.join(repo, 'rules/sample.yaml'), 'title: Severe pain\n', 'title: Severe pain (any kind)\n');
  git('commit', '-qam', 'two');
  const res = await cli(['diff', 'HEAD~1', 'HEAD'], { cwd: repo });
  t.equal(res.code, 0, res.stderr);
  t.match(res.stdout, /changed rule s-severe\n {4}title: "Severe pain" -> "Severe pain \(any kind\)"/);
  t.equal((await cli(['diff', 'no-such-rev', 'HEAD'], { cwd: repo })).code, 2);
});

t.test('impact: past decisions replayed on a candidate; a move to self-care is a safety finding', async (t) => {
  const db = path.join(tempDir(t), 'triage.db');
  const app = await testApp(t, { env: { DATABASE_URL: db } });
  // Fill the database through the API with every chest pain scenario.
  const [file] = (await loadScenarioFiles(BUNDLED_RULES)).filter((f) => f.pathway === 'chest-pain' && f.file.endsWith('chest-pain.scenarios.yaml'));
  for (const scenario of file!.scenarios) {
    const answers = Object.fromEntries(scenarioAnswers(scenario).map((a) => [a.questionId, a.value]));
    t.equal((await post(app, '/v1/triage', { pathwayId: 'chest-pain', patient: scenario.patient, answers })).status, 200);
  }
  await app.close();
  const env = { DATABASE_URL: db };

  const same = await cli(['impact', bundledRules(t)], { env });
  t.equal(same.code, 0, same.stdout);
  t.match(same.stdout, new RegExp(`chest-pain: ${file!.scenarios.length} decisions replayed; ${file!.scenarios.length} keep their outcome, 0 move up, 0 move down`));

  // A candidate that lets people over 40 with muscle-like pain look after themselves.
  const candidate = bundledRules(t);
  edit(path.join(candidate, 'chest-pain.yaml'), '{ fact: ageYears, operator: lessThan, value: 40 }', '{ fact: ageYears, operator: lessThan, value: 60 }');
  const risky = await cli(['impact', candidate, '--format', 'json'], { env });
  t.equal(risky.code, 1, 'a safety finding exits 1');
  const report = JSON.parse(risky.stdout);
  t.match(report.pathways, [{ pathway: 'chest-pain', counts: { down: 1, asks_more: 1, same: file!.scenarios.length - 2 } }]);
  // What moved, by outcome, not only by trace id.
  t.match(report.pathways[0].moves, [
    { movement: 'asks_more', before: { kind: 'callback', disposition: 'CB-ROUTINE', ruleId: 'cp-older-pain' }, after: null, count: 1 },
    { movement: 'down', before: { kind: 'callback', ruleId: null }, after: { kind: 'self_care', ruleId: 'cp-muscle-strain' }, count: 1 },
  ]);
  t.match(report.safetyFindings, [{ pathway: 'chest-pain', before: { kind: 'callback', ruleId: null }, after: { kind: 'self_care', ruleId: 'cp-muscle-strain' } }]);
  t.equal(report.safetyFindings.length, 1);
  // The over-40 sore chest was never asked what the candidate's muscle-strain rule needs: a finding of its own.
  t.match(report.moreQuestions, [{ pathway: 'chest-pain', before: { ruleId: 'cp-older-pain' }, wouldAsk: Array }]);
  const human = await cli(['impact', candidate], { env });
  t.match(human.stdout, /down 1: callback CB-URGENT \(fallback\) -> self_care SC-MUSCLE-STRAIN \(cp-muscle-strain\), e\.g\. [0-9a-f-]{36}/);
  t.match(human.stdout, /SAFETY chest-pain: trace [0-9a-f-]{36} was callback CB-URGENT \(fallback\), would be self_care SC-MUSCLE-STRAIN \(cp-muscle-strain\)/);
  t.match(human.stdout, /MORE QUESTIONS chest-pain: decision \(trace [0-9a-f-]{36}\) ended callback CB-ROUTINE \(cp-older-pain\); the candidate would ask \d+ more questions? \(/);
  t.match(human.stdout, /1 safety finding, 1 decision that would ask more questions$/m);

  // A candidate that escalates more moves decisions up, which is not a safety finding.
  const cautious = bundledRules(t);
  edit(path.join(cautious, 'chest-pain.yaml'), 'fallback: callback-1h', 'fallback: go-to-ae');
  const up = await cli(['impact', cautious, '--format', 'json'], { env });
  t.equal(up.code, 0);
  t.match(JSON.parse(up.stdout).pathways, [{ counts: { up: 1 } }]);
  t.equal((await cli(['impact', cautious, '--since', '2999-01-01'], { env })).stdout.trim(), 'no decisions to replay');
  t.equal((await cli(['impact', cautious, '--since', 'soon'], { env })).code, 2);
});

t.test('explain: the decision and its explanation, as the API gives it', async (t) => {
  const dir = bundledRules(t);
  const res = await cli(['explain', 'chest-pain', '--dir', dir, '--age', '58', '--sex', 'male', '--answers', '{"emergency_signs":["none"],"pain_now":true,"pain_feel":"crushing_heavy_tight"}']);
  t.equal(res.code, 0);
  t.match(res.stdout, /^Escalated: Call 999 now - this could be a heart attack, because rule cp-crushing-pain-now 'Crushing or heavy chest pain now' fired: pain_now is 'yes'/);
  t.match(res.stdout, /Ruled out rule rf-stroke-signs 'Signs of a stroke': emergency_signs is 'none'/);
  const json = await cli(['explain', 'chest-pain', '--dir', dir, '--age', '58', '--sex', 'male', '--answers', '{"emergency_signs":["none"]}', '--format', 'json']);
  t.match(JSON.parse(json.stdout), {
    status: 'needs_answer',
    question: { id: 'pain_now' },
    explanation: { summary: /^No rule has decided yet; we ask about pain_now because it could still mean you need to call 999 now: rule cp-crushing-pain-now/ },
  });
  t.equal((await cli(['explain', 'chest-pain', '--dir', dir, '--age', '58', '--sex', 'male', '--answers', '{"pain_now":"maybe"}'])).code, 2);
  t.equal((await cli(['explain', 'nope', '--dir', dir, '--age', '58', '--sex', 'male', '--answers', '{}'])).code, 1);
});
