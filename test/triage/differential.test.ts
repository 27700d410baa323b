import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { loadScenarioFiles, scenarioAnswers } from '../../src/rulesets/scenarios.js';
import { SEXES, type ConditionNode, type Question } from '../../src/rulesets/schema.js';
import type { PathwayVersion } from '../../src/rulesets/version.js';
import type { Answer, Patient } from '../../src/triage/answers.js';
import type { Decision } from '../../src/triage/decide.js';
import { Triage } from '../../src/triage/triage.js';
import { BUNDLED_RULES } from '../helpers.js';

/**
 * The proof the performance issue asks for: evaluating only the rules a decision needs
 * (`needed`) must not change a single decision or trace outcome against handing every rule to
 * json-rules-engine (`all`), over every scenario step and many random answer sets per pathway.
 */
const catalog = await loadRuleCatalog(BUNDLED_RULES);
const versions = [...catalog.versions.values()];
const needed = new Triage(versions, { timeoutMs: 10_000, ruleEvaluation: 'needed' });
const all = new Triage(versions, { timeoutMs: 10_000, ruleEvaluation: 'all' });
const RANDOM_SETS_PER_PATHWAY = 500;

/** Every way the `needed` decision differs from the `all` one; empty when they agree. */
function differences(full: Decision, lean: Decision): string[] {
  const out: string[] = [];
  const same = (what: string, a: unknown, b: unknown) => {
    if (!isDeepStrictEqual(a, b)) out.push(`${what}: all=${JSON.stringify(a)} needed=${JSON.stringify(b)}`);
  };
  same('status', full.status, lean.status);
  same('outcome', full.status === 'complete' ? full.outcome : null, lean.status === 'complete' ? lean.outcome : null);
  same('question', full.status === 'needs_answer' ? full.question.id : null, lean.status === 'needs_answer' ? lean.question.id : null);
  same('answers', full.answers, lean.answers);
  const [f, n] = [full.evaluation, lean.evaluation];
  for (const key of ['facts', 'dropped', 'next', 'decidedBy', 'engineRuns'] as const) same(key, f[key], n[key]);
  same('rule order', f.rules.map((r) => r.ruleId), n.rules.map((r) => r.ruleId));
  f.rules.forEach((fr, i) => {
    const nr = n.rules[i]!;
    if (nr.notEvaluated === undefined) {
      same(`rule ${fr.ruleId}`, fr, nr);
    } else if (nr.notEvaluated === 'unanswered') {
      // Skipped as unable to fire with its questions unanswered: json-rules-engine agrees.
      same(`rule ${fr.ruleId} fired`, fr.fired, false);
    } else {
      // Skipped below the decision: only allowed where a higher-priority rule decided.
      const decider = n.rules.find((r) => 'ruleId' in n.decidedBy && r.ruleId === n.decidedBy.ruleId);
      if (!decider || nr.priority >= decider.priority) out.push(`rule ${fr.ruleId} skipped as decided above, but nothing above it decided`);
    }
  });
  same('askWhen order', f.askWhen.map((a) => a.questionId), n.askWhen.map((a) => a.questionId));
  f.askWhen.forEach((fa, i) => {
    const na = n.askWhen[i]!;
    if (na.notEvaluated === undefined) same(`askWhen ${fa.questionId}`, fa, na);
    else same(`askWhen ${fa.questionId} held`, fa.held, false);
  });
  return out;
}

async function compare(version: PathwayVersion, patient: Patient, answers: Answer[]): Promise<{ diff: string[]; lean: Decision }> {
  const lean = await needed.decide(version, patient, answers);
  return { diff: differences(await all.decide(version, patient, answers), lean), lean };
}

/** Numbers worth trying for a question: its bounds and either side of every constant rules compare it with. */
function numbersFor(version: PathwayVersion, question: Extract<Question, { type: 'number' }>): number[] {
  const constants: number[] = [];
  const visit = (c: ConditionNode) => {
    if ('all' in c) c.all.forEach(visit);
    else if ('any' in c) c.any.forEach(visit);
    else if (c.fact === question.id && typeof c.value === 'number') constants.push(c.value);
  };
  version.rules.forEach((r) => visit(r.rule.conditions));
  version.questions.forEach((q) => q.askWhen && visit(q.askWhen));
  const step = question.integer ? 1 : 0.1;
  const values = [question.min, question.max, ...constants.flatMap((c) => [c - step, c, c + step])];
  return [...new Set(values.filter((v) => v >= question.min && v <= question.max))];
}

function valueFor(version: PathwayVersion, question: Question): fc.Arbitrary<Answer['value']> {
  switch (question.type) {
    case 'yes_no':
      // Mostly "no", so that walks get past the red flags to the pathway's own rules.
      return fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
    case 'single_choice':
      return fc.constantFrom(...question.options.map((o) => o.value));
    case 'multiple_choice': {
      const exclusive = question.options.filter((o) => o.exclusive).map((o) => o.value);
      const others = question.options.filter((o) => !o.exclusive).map((o) => o.value);
      const some = fc.subarray(others, { minLength: 1 });
      return exclusive.length ? fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...exclusive).map((v) => [v]) }, { weight: 1, arbitrary: some }) : some;
    }
    case 'number':
      return fc.oneof(fc.constantFrom(...numbersFor(version, question)), question.integer ? fc.integer({ min: question.min, max: question.max }) : fc.double({ min: question.min, max: question.max, noNaN: true }));
  }
}

/** A patient and any subset of the pathway's questions answered, in the order they are asked. */
function answerSets(version: PathwayVersion): fc.Arbitrary<{ patient: Patient; answers: Answer[] }> {
  const perQuestion = version.questions.map((q) => fc.option(valueFor(version, q), { nil: undefined, freq: 2 }));
  return fc.record({
    patient: fc.record({ ageYears: fc.integer({ min: 0, max: 110 }), sex: fc.constantFrom(...SEXES) }),
    values: fc.tuple(...perQuestion),
  }).map(({ patient, values }) => ({
    patient,
    answers: version.questions.flatMap((q, i) => (values[i] === undefined ? [] : [{ questionId: q.id, value: values[i]! }])),
  }));
}

t.test('every step of every scenario: the same decision and trace outcome either way', async (t) => {
  let steps = 0;
  for (const file of await loadScenarioFiles(BUNDLED_RULES)) {
    const version = catalog.versions.get(file.pathway)!;
    for (const scenario of file.scenarios) {
      const answers = scenarioAnswers(scenario) as Answer[];
      for (let n = 0; n <= answers.length; n++) {
        const { diff } = await compare(version, scenario.patient, answers.slice(0, n));
        if (diff.length) t.fail(`${file.pathway} / ${scenario.name} after ${n} answers: ${diff.join('; ')}`);
        steps += 1;
      }
    }
  }
  t.ok(steps > 1000, `${steps} scenario steps compared`);
});

for (const version of versions) {
  t.test(`${version.id}: ${RANDOM_SETS_PER_PATHWAY} random answer sets decide the same either way`, async (t) => {
    let skipped = 0;
    let evaluated = 0;
    await fc.assert(
      fc.asyncProperty(answerSets(version), async ({ patient, answers }) => {
        const { diff, lean } = await compare(version, patient, answers);
        skipped += lean.evaluation.rules.filter((r) => r.notEvaluated).length;
        evaluated += lean.evaluation.rules.filter((r) => !r.notEvaluated).length;
        if (diff.length) throw new Error(diff.join('\n'));
      }),
      { numRuns: RANDOM_SETS_PER_PATHWAY },
    );
    t.pass(`agreed on all ${RANDOM_SETS_PER_PATHWAY}; ${skipped} rule evaluations skipped, ${evaluated} made`);
    t.ok(skipped > 0, 'the comparison covered skipped rules');
  });
}
