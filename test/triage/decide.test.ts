import { Operator } from 'json-rules-engine';
import t from 'tap';
import { DomainError } from '../../src/errors.js';
import { problemOf as answeredWith } from '../../src/http/errors.js';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import type { Answer, Patient } from '../../src/triage/answers.js';
import { applyAnswer } from '../../src/triage/answers.js';
import type { Decision } from '../../src/triage/decide.js';
import { Triage, type TriageOptions } from '../../src/triage/triage.js';
import { BASIC_RULES } from '../helpers.js';

const catalog = await loadRuleCatalog(BASIC_RULES);
const sample = catalog.versions.get('sample')!;
const adult: Patient = { ageYears: 40, sex: 'female' };

function triage(options: Partial<TriageOptions> = {}): Triage {
  return new Triage(catalog.versions.values(), { timeoutMs: 1000, ...options });
}

const a = (questionId: string, value: Answer['value']): Answer => ({ questionId, value });

const outcomeOf = (d: Decision) => (d.status === 'complete' ? d.outcome : undefined);

/** What `fn` refuses with, as the API answers it (status, title, detail). */
function problemOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err instanceof DomainError ? answeredWith(err) : err;
  }
  return undefined;
}

function summary(d: Decision): string {
  return d.status === 'complete' ? `${d.outcome.kind}:${d.outcome.ruleId ?? 'fallback'}` : `ask:${d.question.id}`;
}

t.test('the global red-flag question comes first, then the pathway questions in file order', async (t) => {
  const tr = triage();
  t.equal(summary(await tr.decide(sample, adult, [])), 'ask:emergency');
  t.equal(summary(await tr.decide(sample, adult, [a('emergency', false)])), 'ask:severe');
  t.equal(summary(await tr.decide(sample, adult, [a('emergency', false), a('severe', false)])), 'ask:kind');
});

t.test('a global red flag decides before any pathway rule, whatever their priorities', async (t) => {
  // rf-emergency has priority 1 in its file; s-severe-sharp has 900 and also fires.
  const d = await triage().decide(sample, adult, [a('emergency', true), a('severe', true), a('kind', 'sharp')]);
  t.equal(summary(d), 'escalate:rf-emergency');
  t.equal(outcomeOf(d)?.disposition, 'ED-999');
  // Nothing below the red flag's priority can change the decision, so it is not evaluated...
  t.same(
    d.evaluation.rules.map((r) => [r.ruleId, r.fired, r.notEvaluated ?? 'evaluated']),
    [
      ['rf-emergency', true, 'evaluated'],
      ['s-severe-sharp', null, 'decided_above'],
      ['s-severe', null, 'decided_above'],
      ['s-left', null, 'unanswered'],
      ['s-short-dull', null, 'decided_above'],
    ],
  );
  // ...unless every rule is asked for, when the trace shows all that fired.
  const all = await triage({ ruleEvaluation: 'all' }).decide(sample, adult, [a('emergency', true), a('severe', true), a('kind', 'sharp')]);
  t.equal(summary(all), 'escalate:rf-emergency');
  t.same(
    all.evaluation.rules.filter((r) => r.fired).map((r) => r.ruleId),
    ['rf-emergency', 's-severe-sharp', 's-severe'],
  );
  t.ok(all.evaluation.rules.every((r) => r.notEvaluated === undefined));
});

t.test('a rule that fires waits while a more urgent rule is unknown, asking what that rule needs', async (t) => {
  const tr = triage();
  // Severe: s-severe (callback) fires, but s-severe-sharp (A&E) still depends on the kind of pain.
  const pending = await tr.decide(sample, adult, [a('emergency', false), a('severe', true)]);
  t.equal(summary(pending), 'ask:kind', 'severe alone: the kind of pain is asked before any callback');
  t.same(pending.evaluation.next?.askedFor, { ruleId: 's-severe-sharp', title: 'Severe sharp pain', kind: 'escalate', within: 'PT1H' });
  t.same(
    pending.evaluation.rules.slice(1, 3).map((r) => [r.ruleId, r.fired]),
    [
      ['s-severe-sharp', null],
      ['s-severe', true],
    ],
    'unknown, not false, above a rule that fires',
  );
  t.equal(summary(await tr.decide(sample, adult, [a('emergency', false), a('severe', true), a('kind', 'dull')])), 'callback:s-severe', 'severe and dull: callback');
  // The original semantics decided at once, on file order: what replaying its traces still gives.
  t.equal(summary(await tr.decide(sample, adult, [a('emergency', false), a('severe', true)], 'first-fire-v1')), 'callback:s-severe');
});

t.test('a decision records every rule ranked above it and how each was settled', async (t) => {
  const d = await triage().decide(sample, adult, [a('emergency', false), a('severe', false), a('kind', 'dull'), a('days', 1)]);
  t.equal(summary(d), 'self_care:s-short-dull');
  t.same(
    d.evaluation.settled,
    [
      { ruleId: 'rf-emergency', by: 'answers' },
      { ruleId: 's-severe-sharp', by: 'answers' },
      { ruleId: 's-severe', by: 'answers' },
      { ruleId: 's-left', by: 'not_asked' },
    ],
    's-left is settled because sharp_where is not asked for dull pain',
  );
  t.equal(d.evaluation.semantics, 'settled-v2');
});

t.test('fail-safe: a rule nothing can be asked to settle is settled false, and the trace says so', async (t) => {
  // The schema refuses a fact that is no question; this stands for anything that slipped past it.
  const odd = {
    ...sample,
    hash: 'e'.repeat(64),
    rules: sample.rules.map((r) => (r.rule.id === 's-severe-sharp' ? { ...r, rule: { ...r.rule, conditions: { all: [{ fact: 'mystery', operator: 'equal' as const, value: true }] } } } : r)),
  };
  const tr = triage();
  tr.register(odd);
  const d = await tr.decide(odd, adult, [a('emergency', false), a('severe', true)]);
  t.equal(summary(d), 'callback:s-severe', 'the walk does not get stuck');
  t.same(d.evaluation.settled, [
    { ruleId: 'rf-emergency', by: 'answers' },
    { ruleId: 's-severe-sharp', by: 'unaskable' },
  ]);
});

t.test('the highest-priority rule that fires decides', async (t) => {
  const tr = triage();
  t.equal(summary(await tr.decide(sample, adult, [a('emergency', false), a('severe', true), a('kind', 'sharp')])), 'escalate:s-severe-sharp', 'severe and sharp: the priority 900 rule beats the 500 one');
});

t.test('askWhen: a question is asked only when its condition holds', async (t) => {
  const tr = triage();
  t.equal(summary(await tr.decide(sample, adult, [a('emergency', false), a('severe', false), a('kind', 'sharp')])), 'ask:sharp_where');
  const dull = await tr.decide(sample, adult, [a('emergency', false), a('severe', false), a('kind', 'dull')]);
  t.equal(summary(dull), 'ask:days', 'sharp_where is skipped for dull pain');
  t.equal(dull.evaluation.askWhen.find((q) => q.questionId === 'sharp_where')?.held, false);
});

t.test('the next question records the askWhen that selected it', async (t) => {
  const d = await triage().decide(sample, adult, [a('emergency', false), a('severe', false), a('kind', 'sharp')]);
  t.match(d.evaluation.next, { questionId: 'sharp_where', askWhen: { all: [{ fact: 'kind', operator: 'equal', expected: 'sharp', actual: 'sharp', result: true }] } });
});

t.test('a condition on an unanswered question never fires a rule (notEqual included)', async (t) => {
  // 'all' hands every rule to json-rules-engine, so this checks its operators themselves.
  for (const ruleEvaluation of ['all', 'needed'] as const) {
    const d = await triage({ ruleEvaluation }).decide(sample, adult, []);
    t.equal(d.evaluation.rules.filter((r) => r.fired).length, 0, ruleEvaluation);
  }
  const needed = await triage().decide(sample, adult, []);
  t.ok(
    needed.evaluation.rules.every((r) => r.notEvaluated === 'unanswered' && r.fired === null),
    'with nothing answered every rule is unknown, and none is handed to the engine',
  );
});

t.test('no rule and no question left: the fallback, never self-care', async (t) => {
  const d = await triage().decide(sample, adult, [a('emergency', false), a('severe', false), a('kind', 'dull'), a('days', 10)]);
  t.equal(summary(d), 'callback:fallback');
  t.equal(outcomeOf(d)?.reason, 'fallback');
  t.match(d.evaluation.decidedBy, { fallback: 'no_rule_decided' });
});

t.test('self-care only when its rule fires', async (t) => {
  const d = await triage().decide(sample, adult, [a('emergency', false), a('severe', false), a('kind', 'dull'), a('days', 1)]);
  t.equal(summary(d), 'self_care:s-short-dull');
  t.equal(outcomeOf(d)?.safetyNetting, 'Call 111 if it gets worse.');
});

t.test('Back: changing an earlier answer drops later answers that no longer apply and re-decides', async (t) => {
  const tr = triage();
  let answers = [a('emergency', false), a('severe', false), a('kind', 'sharp'), a('sharp_where', 'right')];
  let d = await tr.decide(sample, adult, answers);
  t.equal(summary(d), 'callback:fallback', 'every rule is settled false: days is not needed');
  // The person goes back to "What kind?" and changes it to dull: sharp_where no longer applies.
  answers = applyAnswer(sample, d.answers, null, 'kind', 'dull');
  d = await tr.decide(sample, adult, answers);
  t.equal(summary(d), 'ask:days');
  t.same(
    d.answers.map((x) => x.questionId),
    ['emergency', 'severe', 'kind'],
    'sharp_where was dropped',
  );
  t.same(d.evaluation.dropped, [a('sharp_where', 'right')]);
  // Back again, to severe: now it decides at once, and the later answers that still apply stay.
  answers = applyAnswer(sample, d.answers, 'days', 'severe', true);
  d = await tr.decide(sample, adult, answers);
  t.equal(summary(d), 'callback:s-severe');
});

t.test('applyAnswer refuses questions not asked, unknown questions and bad values, saying which', async (t) => {
  t.match(
    problemOf(() => applyAnswer(sample, [], 'emergency', 'days', 3)),
    { status: 409, detail: /question days has not been asked; the current question is emergency/ },
  );
  t.match(
    problemOf(() => applyAnswer(sample, [], 'emergency', 'nope', 3)),
    { status: 422, detail: /question nope is not part of pathway sample/ },
  );
  t.match(
    problemOf(() => applyAnswer(sample, [a('emergency', false), a('severe', false), a('kind', 'dull')], 'days', 'days', 400)),
    {
      status: 422,
      detail: /expected a number from 0 to 365 \(days\)/,
    },
  );
  t.match(
    problemOf(() => applyAnswer(sample, [a('emergency', false), a('severe', false), a('kind', 'dull')], 'days', 'days', 2.5)),
    { detail: /whole number/ },
  );
  t.match(
    problemOf(() => applyAnswer(sample, [], 'emergency', 'emergency', 'yes')),
    { detail: /expected true \(yes\) or false \(no\)/ },
  );
});

t.test('fail-safe: an operator that throws gives the conservative fallback and is reported', async (t) => {
  const failures: string[] = [];
  const broken = new Operator('lessThan', () => {
    throw new Error('operator exploded');
  });
  const tr = triage({ extraOperators: [broken], onFailSafe: (cause, detail) => failures.push(`${cause}: ${detail}`) });
  const d = await tr.decide(sample, adult, [a('emergency', false), a('severe', false), a('kind', 'dull'), a('days', 1)]);
  t.equal(summary(d), 'callback:fallback', 'the self-care rule could not be evaluated, so no self-care');
  t.match(d.evaluation.decidedBy, { fallback: 'engine_error', detail: /operator exploded/ });
  t.same(failures, ['engine_error: operator exploded']);
});

t.test('fail-safe: a condition value json-rules-engine cannot copy exactly gives the fallback', async (t) => {
  // The schema allows only JSON values; this stands for anything that slipped past it.
  const dated = sample.rules.map((r) => (r.rule.id === 's-short-dull' ? { ...r, rule: { ...r.rule, conditions: { all: [{ fact: 'days', operator: 'lessThan', value: new Date(0) }] } } } : r));
  const odd = { ...sample, hash: 'f'.repeat(64), rules: dated } as typeof sample;
  const tr = triage();
  tr.register(odd);
  const d = await tr.decide(odd, adult, [a('emergency', false), a('severe', false), a('kind', 'dull'), a('days', 1)]);
  t.equal(summary(d), 'callback:fallback');
  t.match(d.evaluation.decidedBy, { fallback: 'engine_error', detail: /condition-clone: cannot copy \[object Date\]/ });
});

t.test('fail-safe: an evaluation over its time budget gives the fallback', async (t) => {
  const slow = new Operator('equal', (x, y) => {
    const until = Date.now() + 5;
    while (Date.now() < until) {
      // burn CPU: a pathologically slow rule
    }
    return x === y;
  });
  const failures: string[] = [];
  const tr = triage({ extraOperators: [slow], timeoutMs: 10, onFailSafe: (cause) => failures.push(cause) });
  const d = await tr.decide(sample, adult, [a('emergency', false), a('severe', false), a('kind', 'dull'), a('days', 1)]);
  t.equal(summary(d), 'callback:fallback');
  t.match(d.evaluation.decidedBy, { fallback: 'timeout' });
  t.same(failures, ['timeout']);
});

t.test('the engine pool reuses engines and never shares one between concurrent evaluations', async (t) => {
  const tr = triage();
  const runs = Array.from({ length: 20 }, () => tr.decide(sample, adult, [a('emergency', false), a('severe', true), a('kind', 'sharp')]));
  const results = await Promise.all(runs);
  t.ok(results.every((d) => summary(d) === 'escalate:s-severe-sharp'));
  const record = (d: Decision) => JSON.stringify(d.evaluation.rules.map((r) => [r.ruleId, r.fired, r.notEvaluated]));
  t.equal(
    record(results[0]!),
    JSON.stringify([
      ['rf-emergency', false, null],
      ['s-severe-sharp', true, null],
      ['s-severe', null, 'decided_above'],
      ['s-left', null, 'unanswered'],
      ['s-short-dull', null, 'decided_above'],
    ]),
  );
  t.ok(
    results.every((d) => record(d) === record(results[0]!)),
    'every run evaluated the same rules with the same results',
  );
});
