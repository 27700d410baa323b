// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import { type Engine } from 'json-rules-engine';
import t from 'tap';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { loadScenarioFiles, scenarioAnswers } from '../../src/rulesets/scenarios.js';
import { buildEngine } from '../../src/triage/engines.js';
import { BUNDLED_RULES, post, testApp } from '../helpers.js';

/**
 * The json-rules-engine hazard: an Engine keeps its run status on itself, so concurrent runs
 * on one Engine skip each other's lower-priority rules. Decisions must not depend on load.
 */
const catalog = await loadRuleCatalog(BUNDLED_RULES);
const files = await loadScenarioFiles(BUNDLED_RULES);

// Mixed requests: every prefix of every bundled scenario (early steps, red flags, outcomes).
const requests = files.flatMap((file) =>
  file.scenarios.flatMap((scenario) => {
    const answers = scenarioAnswers(scenario);
    return answers.map((_, n) => ({
      pathwayId: file.pathway,
      patient: scenario.patient,
      answers: Object.fromEntries(answers.slice(0, n + 1).map((a) => [a.questionId, a.value])),
    }));
  }),
);

t.test('the hazard is real: concurrent runs sharing one Engine lose rules', async (t) => {
  const version = catalog.versions.get('chest-pain')!;
  const shared: Engine = buildEngine(version).engine;
  const facts = { ageYears: 50, sex: 'male', emergency_signs: ['none'], pain_now: true, pain_feel: 'burning' };
  const total = version.rules.length + version.questions.filter((q) => q.askWhen).length;
  const lostOn = async (engineFor: () => Engine): Promise<number> => {
    const runs = [];
    for (let i = 0; i < 100; i++) {
      runs.push(engineFor().run(facts));
      // Stagger the starts by a few microtasks, as requests arriving together do.
      for (let k = 0; k < i % 7; k++) {
        await Promise.resolve();
      }
    }
    const results = await Promise.all(runs);
    return results.filter((r) => r.results.length + r.failureResults.length < total).length;
  };
  const lostShared = await lostOn(() => shared);
  t.ok(lostShared > 0, `${lostShared} of 100 staggered concurrent runs on one shared engine skipped rules`);
  t.equal(await lostOn(() => buildEngine(version).engine), 0, 'an engine per run loses none');
});

t.test('50 concurrent requests with mixed answers decide exactly as one at a time', async (t) => {
  const app = await testApp(t, { rulesDir: BUNDLED_RULES, env: { TRIAGE_WORKERS: '2' } });
  const batch = Array.from({ length: 50 }, (_, i) => requests[(i * 7) % requests.length]!);
  const decisionOf = (body: { status: string; outcome?: { kind: string; disposition: string; ruleId: string | null }; question?: { id: string } }) =>
    body.status === 'complete' ? `${body.outcome!.kind}/${body.outcome!.disposition}/${body.outcome!.ruleId}` : `ask/${body.question!.id}`;

  const sequential: string[] = [];
  for (const body of batch) {
    const res = await post(app, '/v1/triage', body);
    t.equal(res.status, 200);
    sequential.push(decisionOf(res.body));
  }
  for (let round = 0; round < 3; round++) {
    const concurrent = await Promise.all(batch.map((body) => post(app, '/v1/triage', body)));
    t.same(
      concurrent.map((r) => decisionOf(r.body)),
      sequential,
      `round ${round + 1}: identical decisions under concurrency`,
    );
  }
  t.ok(new Set(sequential).size >= 5, 'the batch mixes questions and outcomes');
});

t.test('rule results are deep copies: a later run on the same engine changes no earlier result, and the rules keep none', async (t) => {
  // json-rules-engine copies each rule's conditions into its result (with `clone`, replaced in
  // package.json by packages/condition-clone): the copies must share nothing, and keep the
  // Condition methods.
  const objects = (node: unknown, into = new Set<object>()): Set<object> => {
    if (node !== null && typeof node === 'object' && !into.has(node)) {
      into.add(node);
      for (const value of Object.values(node)) objects(value, into);
    }
    return into;
  };
  for (const file of files) {
    const version = catalog.versions.get(file.pathway)!;
    const lent = buildEngine(version);
    const rules = (lent.engine as unknown as { rules: { conditions: unknown }[] }).rules;
    const factsOf = (n: number) => {
      const scenario = file.scenarios[n % file.scenarios.length]!;
      return { ...scenario.patient, ...Object.fromEntries(scenarioAnswers(scenario).map((a) => [a.questionId, a.value])) };
    };
    const first = await lent.run(factsOf(0));
    const before = JSON.stringify(first.results);
    const second = await lent.run(factsOf(1));
    t.equal(JSON.stringify(first.results), before, `${file.pathway}: the second run left the first run's results as they were`);
    const held = new Set([...rules.flatMap((r) => [...objects(r.conditions)]), ...first.results.flatMap((r) => [...objects(r.conditions)])]);
    t.notOk(
      second.results.some((r) => [...objects(r.conditions)].some((o) => held.has(o))),
      `${file.pathway}: no result shares an object with the rules or with another run`,
    );
    t.notMatch(JSON.stringify(rules.map((r) => r.conditions)), /factResult|"result"/, `${file.pathway}: the rules themselves hold no results`);
    t.ok(
      first.results.every((r) => Object.getPrototypeOf(r.conditions) === Object.getPrototypeOf(rules[0]!.conditions)),
      `${file.pathway}: copies are Conditions still (json-rules-engine evaluates them)`,
    );
  }
});
