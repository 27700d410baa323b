import t from 'tap';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { applyAnswer, type Answer, type Patient } from '../../src/triage/answers.js';
import type { DecidedOutcome } from '../../src/triage/decide.js';
import { Triage } from '../../src/triage/triage.js';
import { BUNDLED_RULES } from '../helpers.js';

/**
 * The bundled catch-all (issue 26, item 2): nobody leaves without an outcome, at any age, and its
 * outcomes are conservative. Each walk answers one question at a time, as the API asks them.
 */
const catalog = await loadRuleCatalog(BUNDLED_RULES);
const triage = new Triage(catalog.versions.values(), { timeoutMs: 5000 });
const catchAll = catalog.versions.get(catalog.pathways.find((p) => p.content.catchAll)!.content.id)!;

/** The reassuring answer to every question the catch-all (with its modules) can ask. */
const REASSURING: Record<string, unknown> = {
  emergency_signs: ['none'],
  sep_signs: ['none'],
  sep_child_signs: ['none'],
  sep_no_pee: false,
  sep_no_wet_nappy: false,
  sep_warning: ['none'],
  stk_signs: ['none'],
  stk_baby_signs: ['none'],
  // "Yes" keeps the allergy questions in every walk; "no" skips them (tested below).
  alg_possible: true,
  alg_signs: ['none'],
  alg_adrenaline: false,
  alg_other: ['none'],
  dh_shock: ['none'],
  dh_signs: ['none'],
  dh_risk: ['none'],
  age_months: 6,
  high_temp: false,
  immunity: 'neither',
  pregnant: false,
  how_unwell: 'a_little',
  trend: 'better',
  child_feeding: 'usual',
  child_alert: 'usual',
  usual_activities: 'all',
  long_term: ['none'],
  how_long: 'P3D',
  worried: false,
};
const AGES = [0, 1, 4, 5, 10, 15, 16, 40, 74, 75, 100];
const PEOPLE: Patient[] = AGES.flatMap((ageYears) => (['female', 'male'] as const).map((sex) => ({ ageYears, sex })));

/** Walks the catch-all to its outcome; `answer` gives each question's answer (undefined: reassuring). */
async function walk(patient: Patient, answer: (id: string, offersUnsure: boolean) => unknown = () => undefined): Promise<DecidedOutcome> {
  let answers: Answer[] = [];
  for (let step = 0; step < 100; step++) {
    const d = await triage.decide(catchAll, patient, answers);
    if (d.status === 'complete') return d.outcome;
    const q = d.question;
    const value = answer(q.id, 'unsure' in q && q.unsure !== undefined) ?? REASSURING[q.id];
    if (value === undefined) throw new Error(`no answer for ${q.id}`);
    answers = applyAnswer(catchAll, d.answers, q.id, q.id, value);
  }
  throw new Error('the walk did not end');
}

t.test('every reassuring answer: self-care from 3 months to 74 years, a callback at 75 and over', async (t) => {
  for (const person of PEOPLE) {
    const outcome = await walk(person);
    t.equal(outcome.kind, person.ageYears >= 75 ? 'callback' : 'self_care', `${person.ageYears} ${person.sex}: ${outcome.ruleId}`);
  }
  const newborn = await walk({ ageYears: 0, sex: 'female' }, (id) => (id === 'age_months' ? 1 : undefined));
  t.equal(newborn.kind, 'callback', 'a baby under 3 months is never sent to self-care');
});

t.test('feeling very unwell gets a callback within the hour at every age', async (t) => {
  for (const person of PEOPLE) {
    const outcome = await walk(person, (id) => (id === 'how_unwell' ? 'very' : undefined));
    t.same([outcome.kind, outcome.disposition], ['callback', 'CB-URGENT'], `${person.ageYears} ${person.sex}`);
  }
});

t.test('not an allergic reaction: the allergy signs are skipped, and self-care is still reached', async (t) => {
  for (const person of PEOPLE.filter((p) => p.ageYears >= 1 && p.ageYears < 75)) {
    const asked: string[] = [];
    const outcome = await walk(person, (id) => {
      asked.push(id);
      return id === 'alg_possible' ? false : undefined;
    });
    t.equal(outcome.kind, 'self_care', `${person.ageYears} ${person.sex}: ${outcome.ruleId}`);
    t.notOk(asked.includes('alg_signs'), `${person.ageYears} ${person.sex}: allergy signs not asked`);
  }
});

t.test('an emergency sign escalates at every age', async (t) => {
  for (const person of PEOPLE) {
    const outcome = await walk(person, (id) => (id === 'emergency_signs' ? ['unconscious'] : undefined));
    t.same([outcome.kind, outcome.disposition], ['escalate', 'ED-999'], `${person.ageYears} ${person.sex}`);
  }
});

t.test('"not sure", wherever it is offered, never leads to self-care', async (t) => {
  for (const person of PEOPLE) {
    const outcome = await walk(person, (_id, offersUnsure) => (offersUnsure ? 'unsure' : undefined));
    t.not(outcome.kind, 'self_care', `${person.ageYears} ${person.sex}: ${outcome.kind} ${outcome.ruleId}`);
  }
});
