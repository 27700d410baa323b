import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { z } from 'zod';
import { AnswerValueSchema, PatientSchema, TriageResultSchema, decisionView, problems } from '../schemas.js';

const triage: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/triage',
    {
      schema: {
        operationId: 'triage',
        tags: ['triage'],
        summary: 'Stateless triage: all answers so far in, the next question or the outcome out',
        description:
          'Send every answer so far with each request: the service keeps no state, but every decision is traced. A topic with nothing for this patient runs the catch-all pathway, and `redirected` says so: answer its questions from then on.',
        body: z.strictObject({
          pathwayId: z.string().max(100).describe('A topic id or a pathway id (GET /v1/pathways)'),
          patient: PatientSchema,
          answers: z.record(z.string().max(100), AnswerValueSchema).default({}),
        }),
        response: {
          200: TriageResultSchema,
          ...problems(404, 422),
        },
      },
    },
    async (request) => {
      const { pathwayId, patient, answers } = request.body;
      const { decision, traceId, pathwayId: ran, redirected } = await app.assessments.triageOnce(pathwayId, patient, answers);
      const about = { pathwayId: ran, ...(redirected ? { redirected } : {}) };
      return { ...decisionView(decision), traceId, ...about };
    },
  );
};

export default triage;
