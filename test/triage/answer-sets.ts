import fc from 'fast-check';
import { durationHours } from '../../src/rulesets/duration.js';
import { AGE_BAND_YEARS, ageBandsServed, SEXES, UNSURE, type ConditionNode, type Question } from '../../src/rulesets/schema.js';
import type { PathwayVersion } from '../../src/rulesets/version.js';
import type { Answer, Patient } from '../../src/triage/answers.js';

/** Random answers for property tests over the bundled pathways (differential, semantics). */

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

export function valueFor(version: PathwayVersion, question: Question): fc.Arbitrary<Answer['value']> {
  switch (question.type) {
    case 'yes_no':
      // Mostly "no", so that walks get past the red flags to the pathway's own rules.
      return fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constantFrom<Answer['value']>(true, ...(question.unsure ? [UNSURE] : [])) });
    case 'single_choice':
      return fc.constantFrom(...question.options.map((o) => o.value), ...(question.unsure ? [UNSURE] : []));
    case 'multiple_choice': {
      const exclusive = question.options.filter((o) => o.exclusive).map((o) => o.value);
      const others = question.options.filter((o) => !o.exclusive).map((o) => o.value);
      const some = fc.subarray(others, { minLength: 1 });
      return exclusive.length ? fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...exclusive).map((v) => [v]) }, { weight: 1, arbitrary: some }) : some;
    }
    case 'number':
      return fc.oneof(
        fc.constantFrom(...numbersFor(version, question)),
        question.integer ? fc.integer({ min: question.min, max: question.max }) : fc.double({ min: question.min, max: question.max, noNaN: true }),
      );
    case 'duration': {
      // Whole hours either side of each duration rules compare with (the version holds them in hours).
      const max = question.max ? durationHours(question.max) : 24 * 366;
      const hours = numbersFor(version, { ...question, type: 'number', unit: 'hours', min: 0, max, integer: true }).map(Math.round);
      return fc.constantFrom(...new Set(hours)).map((h) => `PT${h}H`);
    }
  }
}

/** A patient and any subset of the pathway's questions answered, in the order they are asked. */
export function answerSets(version: PathwayVersion): fc.Arbitrary<{ patient: Patient; answers: Answer[] }> {
  const perQuestion = version.questions.map((q) => fc.option(valueFor(version, q), { nil: undefined, freq: 2 }));
  return fc
    .record({
      patient: fc.record({ ageYears: fc.integer({ min: 0, max: 110 }), sex: fc.constantFrom(...SEXES) }),
      values: fc.tuple(...perQuestion),
    })
    .map(({ patient, values }) => ({
      patient,
      answers: version.questions.flatMap((q, i) => (values[i] === undefined ? [] : [{ questionId: q.id, value: values[i]! }])),
    }));
}

/** A patient the pathway applies to, and an answer to every question, as if all were asked. */
export function completeAnswerSets(version: PathwayVersion): fc.Arbitrary<{ patient: Patient; given: Record<string, Answer['value']> }> {
  const { applies } = version.definition.pathway;
  const ages = fc.constantFrom(...ageBandsServed(applies)).chain((band) => fc.integer({ min: AGE_BAND_YEARS[band].min, max: Math.min(AGE_BAND_YEARS[band].max, 110) }));
  return fc
    .record({
      patient: fc.record({ ageYears: ages, sex: fc.constantFrom(...applies.sexes) }),
      values: fc.tuple(...version.questions.map((q) => valueFor(version, q))),
    })
    .map(({ patient, values }) => ({ patient, given: Object.fromEntries(version.questions.map((q, i) => [q.id, values[i]!])) }));
}

/** What fc.assert would throw for a property's run (its report, then its cause), or null when it held. */
export function propertyFailure<Ts>(report: fc.RunDetails<Ts>): string | null {
  return report.failed ? `${fc.defaultReportMessage(report)}\n${String(report.errorInstance)}` : null;
}
