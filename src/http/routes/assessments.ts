import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { z } from 'zod';
import type { StepResult } from '../../assessments/service.js';
import type { QueuedCallback } from '../../callbacks/request.js';
import type { Assessment } from '../../store/assessments.js';
import { CALLBACK_STATUSES } from '../../callbacks/vocabulary.js';
import { ASSESSMENT_STATUS_ALIAS, ASSESSMENT_STATUSES } from '../../triage/decision.js';
import {
  AnswerSchema,
  AnswerValueSchema,
  traceIdField,
  DateTimeString,
  OutcomeViewSchema,
  PatientSchema,
  RedirectedSchema,
  QuestionViewSchema,
  UuidString,
  decisionView,
  outcomeView,
  problems,
  questionView,
} from '../schemas.js';

const IdParams = z.object({ id: z.string().max(100) });
/**
 * The patient's token: optional here so that a request without it is the service's own 401, and
 * required in the document, where it is the assessmentToken security scheme (swagger.ts).
 */
const TokenHeaders = z.object({
  'x-assessment-token': z.string().max(200).optional().describe('The token returned when the assessment was created'),
});
/* The fields a route adds go in both cases of the step: one closed object each, so a response satisfies exactly one. */
const assessmentStep = <S extends z.ZodRawShape>(fields: S) =>
  z.discriminatedUnion('status', [
    z
      .object({ id: UuidString, status: z.literal('in_progress'), question: QuestionViewSchema, ...traceIdField, ...fields })
      .describe("A question to answer next: `in_progress` is this API version's alias, on the assessment routes, of `needs_answer` (POST /v1/triage)"),
    z.object({ id: UuidString, status: z.literal('complete'), outcome: OutcomeViewSchema, ...traceIdField, ...fields }).describe('The outcome'),
  ]);

/** The patient's view of their callback request: never less urgent than their latest answers. */
const PatientCallbackSchema = z
  .object({
    id: UuidString,
    status: z.enum(CALLBACK_STATUSES),
    dueAt: DateTimeString,
    within: z.string(),
    answersChanged: z.boolean().describe('Answers changed after asking: the clinician who calls sees the change'),
    actNow: z.object({ title: z.string(), advice: z.string() }).optional().describe("Present when the answers now need emergency care: the escalation's own words; do not wait for the call"),
  })
  .meta({ id: 'PatientCallback' });
const CallbackRequestSchema = PatientCallbackSchema.extend({ phone: z.string() });
const StepSchema = assessmentStep({ callback: PatientCallbackSchema.optional().describe('The callback request, once asked for') }).meta({ id: 'AssessmentStep' });
const StartedSchema = assessmentStep({
  token: z.string().describe('Send as x-assessment-token to read or answer this assessment'),
  pathwayId: z.string().describe('The pathway the assessment runs'),
  redirected: RedirectedSchema.optional(),
}).meta({ id: 'AssessmentStarted' });

function callbackView(callback: QueuedCallback, assessment: Assessment): z.infer<typeof PatientCallbackSchema> {
  const outcome = assessment.status === 'complete' ? assessment.outcome : null;
  return {
    id: callback.id,
    status: callback.status,
    dueAt: callback.dueAt,
    within: callback.within,
    answersChanged: callback.answersChanged !== null,
    ...(outcome?.kind === 'escalate' ? { actNow: { title: outcome.title, advice: outcome.advice } } : {}),
  };
}

function stepView({ assessment, decision, traceId, callback }: StepResult): z.infer<typeof StepSchema> {
  const view = decisionView(decision);
  // This API version's alias: the assessment routes say in_progress for needs_answer.
  const step: z.infer<typeof StepSchema> =
    view.status === 'complete' ? { id: assessment.id, ...view, traceId } : { id: assessment.id, status: ASSESSMENT_STATUS_ALIAS[view.status], question: view.question, traceId };
  return callback ? { ...step, callback: callbackView(callback, assessment) } : step;
}

const assessments: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/assessments',
    {
      schema: {
        operationId: 'startAssessment',
        tags: ['assessments'],
        summary: 'Start an assessment on a topic or pathway: returns the first question (or an outcome)',
        description:
          'A topic with nothing for this patient (by age band or sex) starts the catch-all pathway, and `redirected` says so. A pathway id of one variant of a topic starts the variant that serves the patient.',
        body: z.strictObject({ pathwayId: z.string().max(100).describe('A topic id or a pathway id (GET /v1/pathways)'), patient: PatientSchema }),
        response: {
          201: StartedSchema,
          ...problems(404, 422),
        },
      },
    },
    async (request, reply) => {
      const result = await app.assessments.start(request.body.pathwayId, request.body.patient);
      const redirected = result.redirected ? { redirected: result.redirected } : {};
      return reply.code(201).send({ ...stepView(result), token: result.token, pathwayId: result.assessment.pathwayId, ...redirected });
    },
  );

  app.post(
    '/assessments/:id/answers',
    {
      schema: {
        operationId: 'answerQuestion',
        tags: ['assessments'],
        summary: 'Answer the current question, or change an earlier answer (Back)',
        description:
          'Answering an earlier question again is the Back button: later answers that no longer apply are dropped and the decision is re-made. Returns the next question or the outcome, and the callback request once asked for.',
        params: IdParams,
        headers: TokenHeaders,
        body: z.strictObject({ questionId: z.string().max(100), value: AnswerValueSchema }),
        response: { 200: StepSchema, ...problems(401, 404, 409, 422) },
      },
    },
    async (request) => stepView(await app.assessments.answer(request.params.id, request.headers['x-assessment-token'], request.body.questionId, request.body.value)),
  );

  app.post(
    '/assessments/:id/callback',
    {
      schema: {
        operationId: 'requestCallback',
        tags: ['assessments'],
        summary: 'Ask for the clinician callback the assessment earned',
        description:
          'Name, UK phone number and consent, on a callback outcome. Idempotent: a repeat returns the same request (200), as changed answers left it; the first is 201. The request is due at decision time plus the outcome window.',
        params: IdParams,
        headers: TokenHeaders,
        body: z.strictObject({ name: z.string().trim().min(1).max(100), phone: z.string().trim().min(1).max(40), consent: z.boolean() }),
        response: { 201: CallbackRequestSchema, 200: CallbackRequestSchema, ...problems(401, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      await app.assessments.authorised(request.params.id, request.headers['x-assessment-token']);
      const { request: callback, created } = await app.callbacks.request(request.params.id, request.body);
      const { assessment } = await app.assessments.get(request.params.id);
      return reply.code(created ? 201 : 200).send({ ...callbackView(callback, assessment), phone: callback.phone });
    },
  );

  app.get(
    '/assessments/:id',
    {
      schema: {
        operationId: 'getAssessment',
        tags: ['assessments'],
        summary: 'An assessment: its status, the answers so far, and the current question or outcome',
        description: 'What a patient page needs to resume: the patient, every answer so far, and the question to answer next or the outcome with any callback request.',
        params: IdParams,
        headers: TokenHeaders,
        response: {
          200: z.object({
            id: UuidString,
            pathwayId: z.string(),
            pathwayVersion: z.string(),
            versionHash: z.string(),
            status: z.enum(ASSESSMENT_STATUSES).describe("in_progress: this API version's alias of needs_answer, a question to answer next"),
            patient: PatientSchema,
            answers: z.array(AnswerSchema),
            question: QuestionViewSchema.optional(),
            outcome: OutcomeViewSchema.optional(),
            callback: PatientCallbackSchema.optional(),
            createdAt: DateTimeString,
            updatedAt: DateTimeString,
          }),
          ...problems(401, 404),
        },
      },
    },
    async (request) => {
      await app.assessments.authorised(request.params.id, request.headers['x-assessment-token']);
      const { assessment, version } = await app.assessments.get(request.params.id);
      const question = assessment.questionId ? version.questionById.get(assessment.questionId) : undefined;
      const callback = await app.callbacks.forAssessment(assessment.id);
      return {
        id: assessment.id,
        pathwayId: assessment.pathwayId,
        pathwayVersion: version.version,
        versionHash: version.hash,
        status: assessment.status,
        patient: assessment.patient,
        answers: assessment.answers,
        question: question ? questionView(question) : undefined,
        outcome: assessment.outcome ? outcomeView(assessment.outcome) : undefined,
        callback: callback && callbackView(callback, assessment),
        createdAt: assessment.createdAt,
        updatedAt: assessment.updatedAt,
      };
    },
  );
};

export default assessments;
