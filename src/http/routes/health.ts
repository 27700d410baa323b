import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { hostname } from 'node:os';
import { z } from 'zod';
import { ping } from '../../store/database.js';

const health: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/health/live',
    { schema: { tags: ['health'], summary: 'The process is up', response: { 200: z.object({ status: z.literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'Rules are loaded and the database answers: ready for patients',
        response: {
          200: z.object({
            status: z.literal('ready'),
            instance: z.string().describe('host:pid of the instance that answered'),
            database: z.enum(['sqlite', 'postgres']),
            release: z.string().nullable().describe('The active release, or null when serving the rule files directly'),
            pathways: z.array(z.object({ id: z.string(), version: z.string(), hash: z.string() })).describe('The rule-set version hashes this instance serves'),
          }),
          503: z.object({ status: z.literal('not_ready'), reason: z.string() }),
        },
      },
    },
    async (_request, reply) => {
      const pathways = app.triage.pathways().map((v) => ({ id: v.id, version: v.version, hash: v.hash }));
      try {
        await ping(app.store.db);
      } catch {
        return reply.code(503).send({ status: 'not_ready', reason: 'database unreachable' });
      }
      if (pathways.length === 0) {
        return reply.code(503).send({ status: 'not_ready', reason: 'no pathways loaded' });
      }
      return { status: 'ready' as const, instance: `${hostname()}:${process.pid}`, database: app.store.dialect, release: app.releases.activeRelease(), pathways };
    },
  );
};

export default health;
