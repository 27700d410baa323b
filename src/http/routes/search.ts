import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { z } from 'zod';
import { SEXES } from '../../rulesets/schema.js';

const SearchQuerySchema = z
  .strictObject({
    q: z.string().trim().min(1, 'type a symptom').max(200).describe('What the person typed: never logged or stored'),
    ageYears: z.coerce.number().int().min(0).max(130).optional().describe('With sex: only topics that serve this person'),
    sex: z.enum(SEXES).optional(),
  })
  .refine((query) => (query.ageYears === undefined) === (query.sex === undefined), { message: 'give ageYears and sex together, or neither', path: ['ageYears'] });

export const SymptomSearchSchema = z
  .object({
    matched: z.boolean().describe('false when no topic matched: `topics` then offers the catch-all topic alone'),
    topics: z.array(z.object({ id: z.string().describe('Start an assessment with this as pathwayId'), title: z.string(), description: z.string() })).describe('Best match first'),
  })
  .meta({ id: 'SymptomSearch' });

/**
 * The main-symptom box. What people type can name them or others, so the query is never logged:
 * the request log line keeps the path only (src/http/request-log.ts), and this route logs the
 * number of results.
 */
const search: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/pathways/search',
    {
      schema: {
        operationId: 'searchPathways',
        tags: ['pathways'],
        summary: 'Symptom search: the topics matching what a person typed, best first',
        description: 'Tolerates typos, plurals and word order. With ageYears and sex, only topics that serve that person. When nothing matches, the catch-all topic ("Something else") is offered.',
        querystring: SearchQuerySchema,
        response: { 200: SymptomSearchSchema },
      },
    },
    async (request) => {
      const { q, ageYears, sex } = request.query;
      const result = app.triage.searchTopics(q, ageYears === undefined || sex === undefined ? undefined : { ageYears, sex });
      request.log.info({ results: result.matched ? result.topics.length : 0 }, 'symptom search');
      return { matched: result.matched, topics: result.topics.map((t) => ({ id: t.id, title: t.title, description: t.description })) };
    },
  );
};

export default search;
