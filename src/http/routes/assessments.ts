import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { z } from 'zod';
import type { StepResult } from '../../assessments/service.js';
import { AnswerValueSchema, OutcomeViewSchema, PatientSchema, QuestionViewSchema, StepSchema, outcomeView, problems, questionView } from '../schemas.js';

const IdParams = z.object({ id: z.string().max(100) });
const TokenHeaders = z.object({
  'x-assessment-token': z.string().max(200).optional().describe('The token returned when the assessment was created'),
});
const CallbackRequestSchema = z.object({ id: z.string(), status: z.enum(['waiting', 'claimed', 'completed', 'cancelled']), dueAt: z.string(), within: z.string(), phone: z.string() });

function stepView({ assessment, decision, traceId }: StepResult): z.infer<typeof StepSchema> {
  return decision.status === 'complete'
    ? { id: assessment.id, status: 'complete', outcome: outcomeView(decision.outcome), traceId }
    : { id: assessment.id, status: 'in_progress', question: questionView(decision.question), traceId };
}

const assessments: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/assessments',
    {
      schema: {
        tags: ['assessments'],
        summary: 'Start an assessment: returns the first question (or an outcome)',
        body: z.strictObject({ pathwayId: z.string().max(100), patient: PatientSchema }),
        response: {
          201: z.intersection(StepSchema, z.object({ token: z.string().describe('Send as x-assessment-token to read or answer this assessment') })),
          ...problems(400, 404, 413, 415, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const result = await app.assessments.start(request.body.pathwayId, request.body.patient);
      return reply.code(201).send({ ...stepView(result), token: result.token });
    },
  );

  app.post(
    '/assessments/:id/answers',
    {
      schema: {
        tags: ['assessments'],
        summary: 'Answer the current question, or change an earlier answer (Back)',
        params: IdParams,
        headers: TokenHeaders,
        body: z.strictObject({ questionId: z.string().max(100), value: AnswerValueSchema }),
        response: { 200: StepSchema, ...problems(400, 401, 404, 409, 413, 415, 422, 429) },
      },
    },
    async (request) =>
      stepView(await app.assessments.answer(request.params.id, request.headers['x-assessment-token'], request.body.questionId, request.body.value)),
  );

  app.post(
    '/assessments/:id/callback',
    {
      schema: {
        tags: ['assessments'],
        summary: 'Ask for the clinician callback the assessment earned (idempotent: a repeat returns the same request)',
        params: IdParams,
        headers: TokenHeaders,
        body: z.strictObject({ name: z.string().trim().min(1).max(100), phone: z.string().trim().min(1).max(40), consent: z.boolean() }),
        response: { 201: CallbackRequestSchema, 200: CallbackRequestSchema, ...problems(400, 401, 404, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      await app.assessments.authorised(request.params.id, request.headers['x-assessment-token']);
      const { row, created } = await app.callbacks.request(request.params.id, request.body);
      return reply.code(created ? 201 : 200).send({ id: row.id, status: row.status, dueAt: row.due_at, within: row.within, phone: row.phone });
    },
  );

  app.get(
    '/assessments/:id',
    {
      schema: {
        tags: ['assessments'],
        summary: 'An assessment: its status, the answers so far, and the current question or outcome',
        params: IdParams,
        headers: TokenHeaders,
        response: {
          200: z.object({
            id: z.string(),
            pathwayId: z.string(),
            pathwayVersion: z.string(),
            versionHash: z.string(),
            status: z.enum(['in_progress', 'complete']),
            patient: PatientSchema,
            answers: z.array(z.object({ questionId: z.string(), value: AnswerValueSchema })),
            question: QuestionViewSchema.optional(),
            outcome: OutcomeViewSchema.optional(),
            createdAt: z.string(),
            updatedAt: z.string(),
          }),
          ...problems(401, 404, 429),
        },
      },
    },
    async (request) => {
      await app.assessments.authorised(request.params.id, request.headers['x-assessment-token']);
      const { assessment, version } = await app.assessments.get(request.params.id);
      const question = assessment.questionId ? version.questionById.get(assessment.questionId) : undefined;
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
        createdAt: assessment.createdAt,
        updatedAt: assessment.updatedAt,
      };
    },
  );
};

export default assessments;
