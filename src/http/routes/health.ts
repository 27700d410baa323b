import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { hostname } from 'node:os';
import { z } from 'zod';
import { ping } from '../../store/store.js';
import { FAULT_NAMES } from '../../store/faults.js';
import { pathwayRef } from '../../rulesets/version.js';
import { PathwayRefSchema } from '../schemas.js';

/**
 * Probes for the orchestrator (docs/operations.md), outside the versioned API and its document:
 * they take no input, so no client error applies to them.
 */
const health: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/health/live',
    {
      // The process is up.
      schema: {
        hide: true,
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    {
      // Rules are loaded, the database answers and takes writes, and this instance hears the others: ready for patients.
      schema: {
        hide: true,
        response: {
          200: z.object({
            status: z.literal('ready'),
            instance: z.string().describe('host:pid of the instance that answered'),
            database: z.enum(['sqlite', 'postgres']),
            release: z.string().nullable().describe('The active release, or null when serving the rule files directly'),
            pathways: z.array(PathwayRefSchema).describe('The rule-set version hashes this instance serves'),
          }),
          503: z.object({
            status: z.literal('not_ready'),
            reason: z.string().describe("database unreachable, listener down (this instance would miss other instances' changes), disk full or disk I/O error (until a write succeeds), or no pathways loaded"),
          }),
        },
      },
    },
    async (_request, reply) => {
      const pathways = app.triage.pathways().map(pathwayRef);
      try {
        await ping(app.store.read);
      } catch {
        return reply.code(503).send({ status: 'not_ready', reason: 'database unreachable' });
      }
      const deaf = app.store.notifier.deaf();
      if (deaf) {
        return reply.code(503).send({ status: 'not_ready', reason: `listener down (reconnecting): ${deaf}` });
      }
      if (app.store.diskFault()) {
        // Ready again as soon as a write succeeds: this one, or any other since.
        await app.store.probe().catch(() => undefined);
      }
      const fault = app.store.diskFault();
      if (fault) {
        return reply.code(503).send({ status: 'not_ready', reason: `${FAULT_NAMES[fault.kind]} since ${fault.since}: ${fault.message}` });
      }
      if (pathways.length === 0) {
        return reply.code(503).send({ status: 'not_ready', reason: 'no pathways loaded' });
      }
      return { status: 'ready' as const, instance: `${hostname()}:${process.pid}`, database: app.store.dialect, release: app.releases.activeRelease(), pathways };
    },
  );
};

export default health;
