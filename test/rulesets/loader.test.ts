import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { loadRuleCatalog, RuleSetLoadError, type Finding } from '../../src/rulesets/loader.js';
import { BASIC_RULES, BUNDLED_RULES, tempDir } from '../helpers.js';

/** Copies the basic fixture, applies an edit to sample.yaml, and returns the loader's findings. */
async function findingsAfter(tt: Test, edit: (yaml: string) => string, file = 'sample.yaml'): Promise<Finding[]> {
  const dir = tempDir(tt);
  cpSync(BASIC_RULES, dir, { recursive: true });
  const target = path.join(dir, file);
  writeFileSync(target, edit(readFileSync(target, 'utf8')));
  try {
    await loadRuleCatalog(dir);
  } catch (err) {
    if (err instanceof RuleSetLoadError) {
      return err.findings;
    }
    throw err;
  }
  tt.fail('the rule set was accepted');
  return [];
}

function lineOf(yaml: string, needle: string): number {
  return yaml.split('\n').findIndex((l) => l.includes(needle)) + 1;
}

const sample = readFileSync(path.join(BASIC_RULES, 'sample.yaml'), 'utf8');

t.test('loads the bundled rules and the fixture with one content hash per version', async (t) => {
  const bundled = await loadRuleCatalog(BUNDLED_RULES);
  t.ok(bundled.versions.get('chest-pain'), 'chest pain is bundled');
  for (const v of bundled.versions.values()) {
    t.match(v.hash, /^[0-9a-f]{64}$/);
  }
  const a = await loadRuleCatalog(BASIC_RULES);
  const b = await loadRuleCatalog(BASIC_RULES);
  t.equal(a.versions.get('sample')!.hash, b.versions.get('sample')!.hash, 'same content, same hash');
});

t.test('an edit to a rule changes the version hash', async (t) => {
  const dir = tempDir(t);
  cpSync(BASIC_RULES, dir, { recursive: true });
  const before = (await loadRuleCatalog(dir)).versions.get('sample')!.hash;
  writeFileSync(path.join(dir, 'sample.yaml'), sample.replace('value: 3 }', 'value: 4 }'));
  const after = (await loadRuleCatalog(dir)).versions.get('sample')!.hash;
  t.not(before, after);
});

t.test('a condition naming an unknown question is refused at its line and column', async (t) => {
  const findings = await findingsAfter(t, (y) => y.replace('{ fact: sharp_where, operator', '{ fact: sharp_wher, operator'));
  t.equal(findings.length, 1);
  const f = findings[0]!;
  t.equal(f.file.endsWith('sample.yaml'), true);
  t.equal(f.line, lineOf(sample, 'fact: sharp_where, operator: equal, value: left'));
  t.equal(f.column, sample.split('\n')[f.line - 1]!.indexOf('sharp_where') + 1);
  t.match(f.message, /sharp_wher.*not an earlier question/);
});

t.test("an answer value outside the question's options is refused", async (t) => {
  const findings = await findingsAfter(t, (y) => y.replace('operator: equal, value: left }', 'operator: equal, value: middle }'));
  t.equal(findings.length, 1);
  t.match(findings[0]!.message, /"middle" is not one of left, right/);
  t.equal(findings[0]!.line, lineOf(sample, 'value: left }'));
});

t.test('duplicate question and rule ids are refused', async (t) => {
  const findings = await findingsAfter(t, (y) => y.replace('- id: days', '- id: kind').replace('- id: s-severe\n', '- id: s-severe-sharp\n'));
  const messages = findings.map((f) => f.message).join('\n');
  t.match(messages, /question id kind is already used/);
  t.match(messages, /rule id s-severe-sharp is already used/);
});

t.test('a question that reuses a global red-flag question id is refused', async (t) => {
  const findings = await findingsAfter(t, (y) => y.replace('- id: days', '- id: emergency'));
  t.match(findings.map((f) => f.message).join('\n'), /question id emergency is already used/);
});

t.test('an askWhen may only name earlier questions', async (t) => {
  const findings = await findingsAfter(t, (y) => y.replace('askWhen: { all: [{ fact: kind, operator: equal, value: sharp }] }', 'askWhen: { all: [{ fact: days, operator: lessThan, value: 3 }] }'));
  t.equal(findings.length, 1);
  t.match(findings[0]!.message, /days, which is not an earlier question/);
});

t.test('operators must suit the question type', async (t) => {
  const findings = await findingsAfter(t, (y) => y.replace('{ fact: days, operator: lessThan, value: 3 }', '{ fact: days, operator: contains, value: 3 }'));
  t.match(findings[0]!.message, /days contains: operator not allowed here/);
});

t.test('a self-care fallback is refused: the fallback must be conservative', async (t) => {
  const findings = await findingsAfter(t, (y) => y.replace('fallback: callback', 'fallback: self-care'));
  t.equal(findings[0]!.code, 'unsafe-fallback');
  t.equal(findings[0]!.line, lineOf(sample, 'fallback: callback'));
});

t.test('schema problems name the field: a rule without a rationale, a self-care outcome without safety-netting', async (t) => {
  const findings = await findingsAfter(t, (y) =>
    y.replace('    rationale: Test\n    source: Test\n    priority: 500', '    source: Test\n    priority: 500').replace(' safetyNetting: Call 111 if it gets worse.', ''),
  );
  const messages = findings.map((f) => f.message).join('\n');
  t.match(messages, /rules\.1\.rationale/);
  t.match(messages, /safetyNetting: a self_care outcome must say when to seek help/);
});

t.test('`not` conditions are refused, because they would fire on unanswered questions', async (t) => {
  const findings = await findingsAfter(t, (y) => y.replace('conditions: { all: [{ fact: severe, operator: equal, value: true }] }', 'conditions: { not: { fact: severe, operator: equal, value: true } }'));
  t.ok(findings.length >= 1);
  t.equal(findings[0]!.line, lineOf(sample, 'conditions: { all: [{ fact: severe, operator: equal, value: true }] }'));
});

t.test('YAML syntax errors are reported with their position', async (t) => {
  const findings = await findingsAfter(t, (y) => y.replace('title: Sample', 'title: [Sample'));
  t.equal(findings[0]!.code, 'yaml-syntax');
  t.ok(findings[0]!.line >= lineOf(sample, 'title: Sample'));
});

t.test('a rules directory without a global red flags file is refused', async (t) => {
  const dir = tempDir(t);
  cpSync(path.join(BASIC_RULES, 'sample.yaml'), path.join(dir, 'sample.yaml'));
  await t.rejects(loadRuleCatalog(dir), { name: 'RuleSetLoadError', message: /no global_red_flags file/ });
});

t.test('one bad file refuses the whole rule set, listing every problem', async (t) => {
  const dir = tempDir(t);
  cpSync(BASIC_RULES, dir, { recursive: true });
  writeFileSync(path.join(dir, 'broken.yaml'), 'kind: pathway\nid: broken\n');
  const err = await loadRuleCatalog(dir).catch((e: unknown) => e);
  t.type(err, RuleSetLoadError);
  t.match((err as Error).message, /broken\.yaml:\d+:\d+: error schema/);
});

t.test('a missing rules directory is a clear refusal', async (t) => {
  await t.rejects(loadRuleCatalog('/nonexistent/rules'), { message: /cannot read rules directory: ENOENT/ });
});
