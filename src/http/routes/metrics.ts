import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Security } from '../../security/setup.js';
import { staffOnly } from '../plugins/app/auth.js';
import { problems } from '../schemas.js';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * GET /metrics in Prometheus text format for operators: an admin's credential, or the
 * METRICS_TOKEN bearer token a scraper is given (compared in constant time). Every request's
 * latency is observed here too, by route pattern.
 */
const metrics: FastifyPluginAsyncZod<{ security: Security; token?: string }> = async (app, { security, token }) => {
  app.addHook('onResponse', async (request, reply) => {
    app.metrics.observeRequest({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode }, reply.elapsedTime / 1000);
  });
  const expected = token === undefined ? undefined : digest(token);
  const scraper = (request: FastifyRequest): boolean => {
    const authorization = request.headers.authorization;
    return expected !== undefined && authorization?.startsWith('Bearer ') === true && timingSafeEqual(digest(authorization.slice('Bearer '.length).trim()), expected);
  };
  await app.register(async (scope) => {
    staffOnly(scope, 'metrics', security, scraper);
    scope.get(
      '/metrics',
      {
        schema: {
          tags: ['health'],
          operationId: 'getMetrics',
          produces: ['text/plain'],
          summary: 'Prometheus metrics (text exposition format): request latency by route, decisions, fallbacks, callback queue, group commits, event-loop lag, decision queue',
          description: 'An admin credential, or `Authorization: Bearer <METRICS_TOKEN>`.',
          response: { 200: z.string().describe('text/plain; version=0.0.4'), ...problems(401, 403) },
        },
      },
      async (_request, reply) => {
        const { registry } = app.metrics;
        return reply.type(registry.contentType).send(await registry.metrics());
      },
    );
  });
};

export default metrics;
