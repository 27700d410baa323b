import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { PathwayVersion } from '../../rulesets/version.js';
import { SOFTWARE } from '../../software.js';
import { notModified, REVALIDATED_HEADERS } from '../cache.js';
import { ageBandsServed, SEXES } from '../../rulesets/schema.js';
import { allTopics, topicsFor } from '../../rulesets/topics.js';
import { PathwayDetailSchema, PathwaySummarySchema, pathwaySummary, problems, questionView, TopicViewSchema, topicView } from '../schemas.js';

const NotModified = z.null().describe('Not modified: the copy whose ETag was sent in If-None-Match is current');
const revalidated = { responseHeaders: { 200: REVALIDATED_HEADERS, 304: REVALIDATED_HEADERS } };

/** The list's version: every pathway served (their content hashes) and the software showing them. */
function servedTag(versions: readonly PathwayVersion[]): string {
  const hash = createHash('sha256').update(SOFTWARE.app);
  for (const v of versions) hash.update(`\n${v.hash}`);
  return hash.digest('hex').slice(0, 32);
}

const pathways: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/pathways',
    {
      schema: {
        operationId: 'listPathways',
        tags: ['pathways'],
        summary: 'The topics (presenting problems) a patient can be assessed on, and the pathways behind them',
        description:
          'With ageYears and sex: only the topics that serve this person, each with the pathway that serves them (pathwayId), and only those pathways. Without: every topic with the age bands and sexes it serves, and every pathway. Topics are A to Z, the catch-all last.',
        querystring: z
          .object({
            ageYears: z.coerce.number().int().min(0).max(130).optional().describe('Age in whole years (with sex)'),
            sex: z.enum(SEXES).optional().describe('With ageYears'),
          })
          .refine((q) => (q.ageYears === undefined) === (q.sex === undefined), { message: 'give ageYears and sex together, or neither', path: ['ageYears'] }),
        response: { 200: z.object({ topics: z.array(TopicViewSchema), pathways: z.array(PathwaySummarySchema) }), 304: NotModified },
      },
      config: revalidated,
    },
    async (request, reply) => {
      const { ageYears, sex } = request.query;
      const served = app.triage.pathways();
      if (notModified(request, reply, servedTag(served))) return reply.send(null);
      if (ageYears === undefined || sex === undefined) {
        return { topics: allTopics(served).map((topic) => topicView(topic)), pathways: served.map(pathwaySummary) };
      }
      const personal = topicsFor(served, { ageYears, sex });
      return { topics: personal.map(({ topic, version }) => topicView(topic, version)), pathways: personal.map(({ version }) => pathwaySummary(version)) };
    },
  );

  app.get(
    '/pathways/:id',
    {
      schema: {
        operationId: 'getPathway',
        tags: ['pathways'],
        summary: "A pathway's public description and its questions, in the order they may be asked",
        description: 'The version served now, with who it applies to and the sources it was written from.',
        params: z.object({ id: z.string().max(100) }),
        response: { 200: PathwayDetailSchema, 304: NotModified, ...problems(404) },
      },
      config: revalidated,
    },
    async (request, reply) => {
      const version = app.triage.pathway(request.params.id);
      if (notModified(request, reply, `${version.hash}.${SOFTWARE.app}`)) return reply.send(null);
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
