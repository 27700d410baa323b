import type { PathwayVersion } from '../rulesets/version.js';
import { InvalidAnswer, QuestionNotAsked, UnknownQuestion } from '../errors.js';
import { DURATION_ANSWER, durationHours, durationSeconds } from '../rulesets/duration.js';
import { servesAge, UNSURE, type AgeBand, type Question } from '../rulesets/schema.js';
import type { Patient } from './patient.js';

export type AnswerValue = boolean | string | string[] | number;

export interface Answer {
  questionId: string;
  value: AnswerValue;
}

export type { Patient } from './patient.js';

/** Says what is wrong with a value for a question, in words a frontend developer can act on. */
export function answerProblem(question: Question, value: unknown): string | undefined {
  const orUnsure = 'unsure' in question && question.unsure ? ` or "${UNSURE}"` : '';
  if (orUnsure && value === UNSURE) return undefined;
  switch (question.type) {
    case 'yes_no':
      return typeof value === 'boolean' ? undefined : `expected true (yes) or false (no)${orUnsure}`;
    case 'single_choice': {
      const values = question.options.map((o) => o.value);
      return typeof value === 'string' && values.includes(value) ? undefined : `expected one of: ${values.join(', ')}${orUnsure}`;
    }
    case 'duration': {
      const expected = 'expected an ISO 8601 duration in hours, days or weeks, such as PT6H, P3D or P2W';
      if (typeof value !== 'string' || !DURATION_ANSWER.test(value)) return expected;
      return question.max && durationSeconds(value) > durationSeconds(question.max) ? `expected at most ${question.max}` : undefined;
    }
    case 'multiple_choice': {
      const values = question.options.map((o) => o.value);
      if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' && values.includes(v))) {
        return `expected a non-empty list of: ${values.join(', ')}`;
      }
      if (new Set(value).size !== value.length) {
        return 'the same option is given twice';
      }
      const exclusive = question.options.find((o) => o.exclusive && value.includes(o.value));
      return exclusive && value.length > 1 ? `"${exclusive.value}" cannot be combined with other options` : undefined;
    }
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return `expected a number (${question.unit})`;
      }
      if (question.integer && !Number.isInteger(value)) {
        return `expected a whole number (${question.unit})`;
      }
      return value < question.min || value > question.max ? `expected a number from ${question.min} to ${question.max} (${question.unit})` : undefined;
  }
}

/**
 * What the rules see for an answer: "unsure" counts as the question's `countsAs`, and a duration
 * is compared in hours (rules' ISO values are converted the same way when a version is prepared).
 */
export function engineValue(question: Question | undefined, value: AnswerValue): AnswerValue {
  if (question && 'unsure' in question && question.unsure && value === UNSURE) return question.unsure.countsAs;
  if (question?.type === 'duration' && typeof value === 'string') return durationHours(value);
  return value;
}

const AGE_BAND_WORDS: Record<AgeBand, string> = { adult: 'adults aged 16 and over', child: 'children aged 5 to 15', under5: 'children under 5' };

/** Why this pathway does not apply to this patient, pointing at the one that does. */
export function applicabilityProblem(version: PathwayVersion, patient: Patient): string | undefined {
  const { applies } = version.definition.pathway;
  const otherwise = applies.otherwise ? ` ${applies.otherwise}` : '';
  if (!servesAge(applies, patient.ageYears)) {
    const ages = 'ageBands' in applies ? applies.ageBands.map((b) => AGE_BAND_WORDS[b]).join(', ') : `aged ${applies.minAgeYears} to ${applies.maxAgeYears}`;
    return `The ${version.title} pathway is for ${ages}.${otherwise}`;
  }
  if (!applies.sexes.includes(patient.sex)) {
    return `The ${version.title} pathway is not for this patient.${otherwise}`;
  }
  return undefined;
}

/**
 * Records an answer to the question currently asked, or changes an earlier one (the Back
 * button). Answers that no longer apply after a change are dropped by `decide`.
 */
export function applyAnswer(version: PathwayVersion, answers: Answer[], currentQuestionId: string | null, questionId: string, value: unknown): Answer[] {
  const question = version.questionById.get(questionId);
  if (!question) {
    throw new UnknownQuestion(questionId, version.id);
  }
  const earlier = answers.findIndex((a) => a.questionId === questionId);
  if (earlier < 0 && questionId !== currentQuestionId) {
    throw new QuestionNotAsked(questionId, currentQuestionId);
  }
  const problem = answerProblem(question, value);
  if (problem) {
    throw new InvalidAnswer(`answer to ${questionId}: ${problem}`, [{ path: ['value'], message: problem }]);
  }
  const answer: Answer = { questionId, value: value as AnswerValue };
  return earlier < 0 ? [...answers, answer] : answers.map((a, i) => (i === earlier ? answer : a));
}

/**
 * Answers given all at once (stateless triage, `triage-rules explain`): each checked against its
 * question, then put in the order the pathway asks them, whatever order they came in.
 */
export function givenAnswers(version: PathwayVersion, given: Record<string, unknown>): Answer[] {
  const errors = Object.entries(given).flatMap(([questionId, value]) => {
    const question = version.questionById.get(questionId);
    const problem = question ? answerProblem(question, value) : `not a question of pathway ${version.id}`;
    return problem ? [{ path: ['answers', questionId], message: problem }] : [];
  });
  if (errors.length) {
    throw new InvalidAnswer(errors.map((e) => `${e.path[1]}: ${e.message}`).join('; '), errors, true);
  }
  return version.questions.filter((q) => q.id in given).map((q) => ({ questionId: q.id, value: given[q.id] as AnswerValue }));
}
