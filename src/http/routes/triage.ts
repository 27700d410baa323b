import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { z } from 'zod';
import { AnswerValueSchema, PatientSchema, TriageResultSchema, decisionView, problems } from '../schemas.js';

const triage: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/triage',
    {
      schema: {
        tags: ['triage'],
        summary: 'Stateless triage: all answers so far in, the next question or the outcome out',
        body: z.strictObject({
          pathwayId: z.string().max(100),
          patient: PatientSchema,
          answers: z.record(z.string().max(100), AnswerValueSchema).default({}),
        }),
        response: { 200: TriageResultSchema, ...problems(400, 404, 413, 415, 422) },
      },
    },
    async (request) => {
      const { pathwayId, patient, answers } = request.body;
      const { decision, traceId } = await app.assessments.triageOnce(pathwayId, patient, answers);
      return { ...decisionView(decision), traceId };
    },
  );
};

export default triage;
