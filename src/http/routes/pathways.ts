import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { z } from 'zod';
import { ageBandsServed } from '../../rulesets/schema.js';
import { PathwayDetailSchema, PathwaySummarySchema, pathwaySummary, problems, questionView } from '../schemas.js';

const pathways: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/pathways',
    {
      schema: {
        tags: ['pathways'],
        summary: 'The pathways (presenting problems) a patient can be assessed on',
        response: { 200: z.object({ pathways: z.array(PathwaySummarySchema) }) },
      },
    },
    async () => ({ pathways: app.triage.pathways().map(pathwaySummary) }),
  );

  app.get(
    '/pathways/:id',
    {
      schema: {
        tags: ['pathways'],
        summary: "A pathway's public description and its questions, in the order they may be asked",
        params: z.object({ id: z.string().max(100) }),
        response: { 200: PathwayDetailSchema, ...problems(404) },
      },
    },
    async (request) => {
      const version = app.triage.pathway(request.params.id);
      const { pathway } = version.definition;
      return {
        ...pathwaySummary(version),
        description: pathway.description,
        topic: pathway.topic ?? pathway.id,
        applies: { ageBands: ageBandsServed(pathway.applies), sexes: pathway.applies.sexes },
        sources: pathway.sources,
        questions: version.questions.map(questionView),
      };
    },
  );
};

export default pathways;
