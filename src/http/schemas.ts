import { z } from 'zod';
import { AGE_BANDS, ageBandsServed, OUTCOME_KINDS, SEXES, type Question } from '../rulesets/schema.js';
import type { Topic } from '../rulesets/topics.js';
import type { PathwayVersion } from '../rulesets/version.js';
import type { DecidedOutcome } from '../triage/decide.js';
import type { Decided } from '../triage/decision.js';
import { PatientSchema as Patient } from '../triage/patient.js';

/** The API's shapes: one zod schema each gives validation, TypeScript types and OpenAPI. */

/**
 * Formats the document promises and the contract test checks (ajv-formats), without the response
 * serialiser enforcing them: a timestamp written by an older version must never turn a read into a 500.
 */
export const DateTimeString = z.string().meta({ format: 'date-time' });
export const UuidString = z.string().meta({ format: 'uuid' });

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

/** The refusals a route's own handler can answer with; the ones its scope adds are declared there (declareProblems). */
export const problems = (...statuses: (400 | 401 | 403 | 404 | 409 | 422)[]): Record<number, typeof ProblemSchema> =>
  Object.fromEntries(statuses.map((s) => [s, ProblemSchema])) as Record<number, typeof ProblemSchema>;

export const PatientSchema = z
  .strictObject({
    ageYears: Patient.shape.ageYears.describe('Age in whole years'),
    sex: Patient.shape.sex.describe('Sex assigned at birth, as the rules use it'),
  })
  .meta({ id: 'Patient' });

/** A rule-set version by name and content hash. */
export const PathwayRefSchema = z.object({ id: z.string(), version: z.string(), hash: z.string() });

export const AnswerValueSchema = z
  .union([z.boolean(), z.number(), z.string().max(200), z.array(z.string().max(200)).max(50)])
  .describe(
    'true/false for yes_no, an option value for single_choice, a list of option values for multiple_choice, a number for number, an ISO 8601 duration (PT6H, P3D, P2W) for duration; "unsure" where the question offers it',
  )
  .meta({ id: 'AnswerValue' });

export const AnswerSchema = z.object({ questionId: z.string(), value: AnswerValueSchema }).meta({ id: 'Answer' });

export const QuestionViewSchema = z
  .object({
    id: z.string(),
    text: z.string(),
    help: z.string().optional(),
    type: z.enum(['yes_no', 'single_choice', 'multiple_choice', 'number', 'duration']),
    options: z.array(z.object({ value: z.string(), label: z.string(), exclusive: z.boolean().optional() })).optional(),
    unit: z.string().optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    integer: z.boolean().optional(),
    maxDuration: z.string().optional().describe('duration: the longest answer accepted, as an ISO 8601 duration'),
    unsure: z.object({ label: z.string() }).optional().describe('Offered on some yes_no and single_choice questions: answer the string "unsure" to say so'),
  })
  .meta({ id: 'Question' });

export const OutcomeViewSchema = z
  .object({
    kind: z.enum(OUTCOME_KINDS),
    disposition: z.string(),
    title: z.string(),
    advice: z.string(),
    safetyNetting: z.string().optional(),
    within: z.string().optional().describe('ISO 8601 duration: how soon to act or be called back'),
    ruleId: z.string().nullable().describe('The deciding rule; null when the fallback applied'),
    reason: z.string().describe('The deciding rule\'s title, or "fallback"'),
  })
  .meta({ id: 'Outcome' });

/** What "I'm not sure" is labelled where the file does not say. */
export const UNSURE_LABEL = "I'm not sure";

export function questionView(q: Question): z.infer<typeof QuestionViewSchema> {
  const base = { id: q.id, text: q.text, help: q.help, type: q.type };
  const unsure = 'unsure' in q && q.unsure ? { unsure: { label: q.unsure.label ?? UNSURE_LABEL } } : {};
  switch (q.type) {
    case 'yes_no':
      return { ...base, ...unsure };
    case 'single_choice':
    case 'multiple_choice':
      return { ...base, options: q.options.map((o) => ({ value: o.value, label: o.label, exclusive: o.exclusive })), ...unsure };
    case 'number':
      return { ...base, unit: q.unit, min: q.min, max: q.max, integer: q.integer };
    case 'duration':
      return { ...base, maxDuration: q.max };
  }
}

export function outcomeView(o: DecidedOutcome): z.infer<typeof OutcomeViewSchema> {
  return {
    kind: o.kind,
    disposition: o.disposition,
    title: o.title,
    advice: o.advice,
    safetyNetting: o.safetyNetting,
    within: o.within,
    ruleId: o.ruleId,
    reason: o.reason,
  };
}

export const RedirectedSchema = z
  .object({
    from: z.string().describe('The topic or pathway asked for'),
    reason: z.string().describe('Why it does not serve this patient, in words to show them'),
  })
  .describe('Present when the assessment runs another pathway than the one asked for: the catch-all, or the variant of the topic for this age')
  .meta({ id: 'Redirected' });

export const PathwaySummarySchema = z.object({ id: z.string(), title: z.string(), version: z.string(), versionHash: z.string() });

export const TopicViewSchema = z
  .object({
    id: z.string().describe('Start an assessment with this id (or a pathway id)'),
    title: z.string(),
    description: z.string(),
    ageBands: z.array(z.enum(AGE_BANDS)).describe('Every band some variant serves: adult 16 and over, child 5 to 15, under5 0 to 4'),
    sexes: z.array(z.enum(SEXES)),
    catchAll: z.boolean().describe('The topic for anything not listed, and for anyone no topic serves'),
    searchTerms: z.array(z.string()).describe('Words people type for this topic'),
    pathwayId: z.string().optional().describe('With ageYears and sex: the pathway that serves this person'),
    variants: z.array(z.object({ pathwayId: z.string(), ageBands: z.array(z.enum(AGE_BANDS)), sexes: z.array(z.enum(SEXES)) })),
  })
  .meta({ id: 'Topic' });

export function topicView(topic: Topic, version?: PathwayVersion): z.infer<typeof TopicViewSchema> {
  const variants = topic.variants.map((v) => ({ pathwayId: v.id, ageBands: ageBandsServed(v.definition.pathway.applies), sexes: v.definition.pathway.applies.sexes }));
  const searchTerms = [...new Set(topic.variants.flatMap((v) => v.definition.pathway.searchTerms ?? []))];
  const { id, title, description, ageBands, sexes, catchAll } = topic;
  return { id, title, description, ageBands, sexes, catchAll, searchTerms, ...(version ? { pathwayId: version.id } : {}), variants };
}

export const PathwayDetailSchema = PathwaySummarySchema.extend({
  description: z.string(),
  topic: z.string(),
  applies: z.object({
    ageBands: z.array(z.enum(AGE_BANDS)).describe('adult: 16 and over; child: 5 to 15; under5: 0 to 4'),
    sexes: z.array(z.enum(SEXES)),
  }),
  sources: z.array(z.object({ title: z.string(), url: z.string().optional() })),
  questions: z.array(QuestionViewSchema),
}).meta({ id: 'Pathway' });

export function pathwaySummary(v: PathwayVersion): z.infer<typeof PathwaySummarySchema> {
  return { id: v.id, title: v.title, version: v.version, versionHash: v.hash };
}

/** What was decided, as the API shows it: the outcome, or the question to answer next. */
export function decisionView(decision: Decided): { status: 'complete'; outcome: z.infer<typeof OutcomeViewSchema> } | { status: 'needs_answer'; question: z.infer<typeof QuestionViewSchema> } {
  return decision.status === 'complete' ? { status: 'complete', outcome: outcomeView(decision.outcome) } : { status: 'needs_answer', question: questionView(decision.question) };
}

export const traceIdField = { traceId: UuidString.describe('The trace of this decision') };

export const TriageResultSchema = z
  .discriminatedUnion('status', [
    z
      .object({ status: z.literal('needs_answer'), question: QuestionViewSchema, ...traceIdField, pathwayId: z.string().describe('The pathway that decided'), redirected: RedirectedSchema.optional() })
      .describe('A question to answer next (the assessment routes say `in_progress` for it in this API version)'),
    z
      .object({ status: z.literal('complete'), outcome: OutcomeViewSchema, ...traceIdField, pathwayId: z.string().describe('The pathway that decided'), redirected: RedirectedSchema.optional() })
      .describe('The outcome'),
  ])
  .meta({ id: 'TriageResult' });
