import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { DomainError } from '../../src/errors.js';
import { problemOf } from '../../src/http/errors.js';
import { loadRuleCatalog, RuleSetLoadError, type Finding } from '../../src/rulesets/loader.js';
import { resolveTopic, topicsFor } from '../../src/rulesets/topics.js';
import { parseStoredDefinition, preparePathwayVersion, restorePathwayVersion } from '../../src/rulesets/version.js';
import { applicabilityProblem, applyAnswer, type Answer } from '../../src/triage/answers.js';
import { Triage } from '../../src/triage/triage.js';
import { REPO, tempDir } from '../helpers.js';

/** Topics with age-band variants, a shared module, "not sure" and durations (test/fixtures/module-rules). */
const MODULE_RULES = path.join(REPO, 'test/fixtures/module-rules');
const catalog = await loadRuleCatalog(MODULE_RULES);
const triage = new Triage(catalog.versions.values(), { timeoutMs: 5000 });

function copyWith(tt: Test, edits: Record<string, (yaml: string) => string>): string {
  const dir = tempDir(tt);
  cpSync(MODULE_RULES, dir, { recursive: true });
  for (const [file, edit] of Object.entries(edits)) {
    const target = path.join(dir, file);
    writeFileSync(target, edit(readFileSync(target, 'utf8')));
  }
  return dir;
}

/** What `fn` refuses with, as the API answers it (status, title, detail). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err instanceof DomainError ? problemOf(err) : err;
  }
  return undefined;
}

async function refusals(tt: Test, edits: Record<string, (yaml: string) => string>): Promise<Finding[]> {
  const err = await loadRuleCatalog(copyWith(tt, edits)).catch((e: unknown) => e);
  if (err instanceof RuleSetLoadError) return err.findings;
  tt.fail('the rule set was accepted');
  return [];
}

t.test('a person sees the topics that serve their age, each resolved to its variant', async (t) => {
  const listed = (ageYears: number) => topicsFor(catalog, { ageYears, sex: 'female' }).map((x) => `${x.topic.id}:${x.version.id}`);
  t.same(listed(3), ['elsewhere:elsewhere'], 'an under-5 gets only the catch-all here');
  t.same(listed(5), ['ear:ear-child', 'elsewhere:elsewhere']);
  t.same(listed(15), ['ear:ear-child', 'elsewhere:elsewhere']);
  t.same(listed(16), ['ear:ear-adult', 'elsewhere:elsewhere']);
  t.same(listed(100), ['ear:ear-adult', 'elsewhere:elsewhere']);
});

t.test('a topic or pathway id resolves to what serves the person, else the catch-all with the reason', async (t) => {
  t.same(resolveTopic(catalog, 'ear', { ageYears: 40, sex: 'male' }).version.id, 'ear-adult');
  t.equal(resolveTopic(catalog, 'ear', { ageYears: 40, sex: 'male' }).redirected, undefined, 'the topic serves them: no redirect');
  const child = resolveTopic(catalog, 'ear-adult', { ageYears: 10, sex: 'male' });
  t.equal(child.version.id, 'ear-child', 'the adult variant asked for a child runs the child variant');
  t.match(child.redirected, { from: 'ear-adult', reason: /adults aged 16 and over/ });
  const sameId = await loadRuleCatalog(copyWith(t, { 'ear-adult.yaml': (y) => y.replace('id: ear-adult', 'id: ear') }));
  t.same(resolveTopic(sameId, 'ear', { ageYears: 10, sex: 'male' }), { version: sameId.versions.get('ear-child') }, "a topic id that is also its adult variant's id names the topic: no redirect");
  const baby = resolveTopic(catalog, 'ear', { ageYears: 1, sex: 'female' });
  t.equal(baby.version.id, 'elsewhere', 'nothing for an under-5: the catch-all');
  t.match(baby.redirected, { from: 'ear', reason: /Earache/ });
  t.match(
    thrown(() => resolveTopic(catalog, 'nope', { ageYears: 1, sex: 'female' })),
    { status: 404 },
  );
});

t.test('modules: asked where included, ranked with the pathway, in the hash', async (t) => {
  const adult = catalog.versions.get('ear-adult')!;
  t.same(
    adult.questions.map((q) => q.id),
    ['emergency', 'ear_pain', 'scr_floppy', 'ear_how_long'],
    'module questions at the include',
  );
  t.same(adult.modules, [{ id: 'screen', version: '1.0.0' }]);
  t.same(
    adult.rules.map((r) => `${r.rule.id}:${r.scope}`),
    ['rf-emergency:global_red_flag', 'scr-floppy:module', 'ear-severe:pathway', 'ear-long:pathway', 'ear-short:pathway'],
  );
  t.equal(JSON.parse(adult.canonical).modules[0].id, 'screen', 'the stored definition holds the module');

  const edited = await loadRuleCatalog(copyWith(t, { 'screen.yaml': (y) => y.replace('text: Floppy or hard to wake?', 'text: Floppy, or hard to wake?') }));
  for (const id of ['ear-adult', 'ear-child', 'elsewhere']) {
    t.not(edited.versions.get(id)!.hash, catalog.versions.get(id)!.hash, `editing the module changes ${id}'s version hash`);
  }
});

t.test('"not sure" counts as the file says; the trace keeps what was said and what it counted as', async (t) => {
  const adult = catalog.versions.get('ear-adult')!;
  const patient = { ageYears: 30, sex: 'female' } as const;
  let answers: Answer[] = applyAnswer(adult, [], 'emergency', 'emergency', false);
  answers = applyAnswer(adult, answers, 'ear_pain', 'ear_pain', 'unsure');
  answers = applyAnswer(adult, answers, 'scr_floppy', 'scr_floppy', false);
  const d = await triage.decide(adult, patient, answers);
  t.match(d, { status: 'complete', outcome: { ruleId: 'ear-severe', kind: 'callback' } }, 'unsure pain counts as severe');
  t.equal(d.evaluation.facts.ear_pain, 'severe', 'the rules saw severe');
  t.same(d.answers[1], { questionId: 'ear_pain', value: 'unsure' }, 'the answers keep "unsure"');

  const floppy = await triage.decide(adult, patient, [...answers.slice(0, 1), { questionId: 'ear_pain', value: 'mild' }, { questionId: 'scr_floppy', value: 'unsure' }]);
  t.match(floppy, { status: 'complete', outcome: { ruleId: 'scr-floppy', kind: 'escalate' } }, 'a yes/no unsure counts as yes by default');
  t.match(
    thrown(() => applyAnswer(catalog.versions.get('ear-child')!, [], 'ec_pain', 'ec_pain', 'unsure')),
    { status: 422, detail: /expected true \(yes\) or false \(no\)$/ },
    'no unsure where none is offered',
  );
});

t.test('durations: answered in ISO 8601, compared with the rules in one unit', async (t) => {
  const adult = catalog.versions.get('ear-adult')!;
  const patient = { ageYears: 30, sex: 'male' } as const;
  const start: Answer[] = [
    { questionId: 'emergency', value: false },
    { questionId: 'ear_pain', value: 'mild' },
    { questionId: 'scr_floppy', value: false },
  ];
  const outcome = async (value: string) => {
    const d = await triage.decide(adult, patient, applyAnswer(adult, start, 'ear_how_long', 'ear_how_long', value));
    return d.status === 'complete' ? d.outcome.ruleId : d.question.id;
  };
  t.equal(await outcome('PT12H'), 'ear-short');
  t.equal(await outcome('P2DT23H'), 'ear-short');
  t.equal(await outcome('P3D'), 'ear-long', 'P3D meets greaterThanInclusive P3D');
  t.equal(await outcome('PT72H'), 'ear-long', 'the same duration in hours');
  t.equal(await outcome('P2W'), 'ear-long');
  for (const bad of ['3 days', 'PT30M', 'P', 'P27W', '', 'P1Y']) {
    t.match(
      thrown(() => applyAnswer(adult, start, 'ear_how_long', 'ear_how_long', bad)),
      { status: 422 },
      `${JSON.stringify(bad)} is refused`,
    );
  }
});

t.test('validate refuses what the contract forbids', async (t) => {
  const codes = async (edits: Record<string, (y: string) => string>) => (await refusals(t, edits)).map((f) => `${f.code}: ${f.message}`);
  t.match(await codes({ 'ear-adult.yaml': (y) => y.replace('disposition: CB-2H', 'disposition: CB-2HR') }), [/unknown-disposition: .*CB-2HR is not in the dispositions catalogue/]);
  t.match(
    await codes({
      'ear-adult.yaml': (y) =>
        y.replace(
          'disposition: CB-2H, title: Callback, advice: Wait for a call., safetyNetting: Call 999 if worse., within: PT2H',
          'disposition: CB-2H, title: Callback, advice: Wait for a call., safetyNetting: Call 999 if worse., within: PT1H',
        ),
    }),
    [/disposition-mismatch: .*within PT2H in the catalogue, not PT1H/],
  );
  t.match(await codes({ 'ear-child.yaml': (y) => y.replace('ageBands: [child]', 'ageBands: [child, adult]') }), [/topic-overlap: topic ear: ear-child and ear-adult both serve adult/]);
  t.match(await codes({ 'elsewhere.yaml': (y) => y.replace('catchAll: true\n', '') }), [/catch-all: no pathway has catchAll: true/]);
  t.match(await codes({ 'elsewhere.yaml': (y) => y.replace('ageBands: [adult, child, under5]', 'ageBands: [adult, child]') }), [/catch-all: the catch-all serves everyone/]);
  t.match(await codes({ 'ear-adult.yaml': (y) => y.replace('countsAs: severe', 'countsAs: awful') }), [/bad-unsure: unsure counts as awful, which is not an option/]);
  t.match(await codes({ 'ear-adult.yaml': (y) => y.replace('include: screen', 'include: scren') }), [/unknown-module: include names module scren/]);
  t.match(await codes({ 'ear-adult.yaml': (y) => y.replace('value: P3D }', 'value: 3 }') }), [/bad-condition: ear_how_long greaterThanInclusive: a duration is compared with an ISO 8601 duration/]);
  t.match(await codes({ 'ear-adult.yaml': (y) => y.replace('value: P3D }', 'value: P30W }') }), [/beyond the question's max P26W/]);
  t.match(await codes({ 'ear-adult.yaml': (y) => y.replace('id: ear_how_long', 'id: scr_floppy') }), [/duplicate-id: question id scr_floppy is already used/, /.*/]);
  t.ok(
    (await codes({ 'ear-adult.yaml': (y) => y.replace('applies: { ageBands: [adult] }', 'applies: { minAgeYears: 16, maxAgeYears: 120 }') })).some((m) => /minAgeYears is gone: use ageBands/.test(m)),
    'age limits are refused in files',
  );
  t.match(await codes({ 'ear-adult.yaml': (y) => y.replace('searchTerms: [earache, ear ache, sore ear, ear pain, ear hurts]', 'searchTerms: [earache]') }), [/at least 5 search terms/]);
  t.match(await codes({ 'ear-adult.yaml': (y) => y.replace('title: Earache', 'title: Ear pain') }), [/topic-title: variants of topic ear share its title/]);
  t.match(await codes({ 'screen.yaml': (y) => y.replace('type: yes_no', 'type: yes_no\n    options: []') }), [/questions\.0: Unrecognized key: "options"/], 'a bad question in a union reports its own problem');
});

t.test('versions stored before age bands and modules restore, hash-verify and decide as before', async (t) => {
  const stored = JSON.parse(readFileSync(path.join(REPO, 'test/fixtures/legacy-versions/before-age-bands.json'), 'utf8')) as { versions: { id: string; hash: string; content: string }[] };
  for (const { id, hash, content } of stored.versions) {
    const version = restorePathwayVersion(hash, content);
    t.equal(version.hash, hash, `${id}: restores under its old hash`);
    t.notOk('modules' in JSON.parse(version.canonical), 'no modules key is added');
    t.equal(preparePathwayVersion(parseStoredDefinition(content)).hash, hash, `${id}: a release re-checks it against its own schema and gets the same hash`);
  }
  const [sample, feverChild] = stored.versions.map((v) => restorePathwayVersion(v.hash, v.content));
  t.equal(applicabilityProblem(sample!, { ageYears: 16, sex: 'male' }), undefined);
  t.match(applicabilityProblem(sample!, { ageYears: 15, sex: 'male' }), /aged 16 to 120/, 'its age limits still apply');
  t.match(applicabilityProblem(feverChild!, { ageYears: 5, sex: 'male' }), /aged 0 to 4/);
  const old = new Triage([sample!], { timeoutMs: 5000 });
  const d = await old.decide(sample!, { ageYears: 30, sex: 'female' }, [
    { questionId: 'emergency', value: false },
    { questionId: 'severe', value: true },
    { questionId: 'kind', value: 'dull' },
  ]);
  t.match(d, { status: 'complete', outcome: { ruleId: 's-severe', kind: 'callback' } });
});
