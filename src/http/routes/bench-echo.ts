import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { z } from 'zod';

/**
 * Benchmarks only (BENCH_ECHO=true): validates a small JSON body and echoes it, so the cost of
 * Fastify, zod and the network alone can be measured on the same machine in the same run.
 */
const benchEcho: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/bench/echo',
    {
      schema: {
        hide: true,
        body: z.strictObject({ pathwayId: z.string().max(100), patient: z.object({ ageYears: z.number().int(), sex: z.enum(['female', 'male']) }) }),
        response: { 200: z.object({ pathwayId: z.string(), patient: z.object({ ageYears: z.number(), sex: z.string() }) }) },
      },
    },
    async (request) => request.body,
  );
};

export default benchEcho;
