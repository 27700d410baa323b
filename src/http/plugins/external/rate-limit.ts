import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { declareProblems, Problem } from '../../problem.js';

/** A 429 in the problem shape; Retry-After is set by the rate limiter. */
const tooManyRequests =
  (from: (request: FastifyRequest) => string) =>
  (request: FastifyRequest, context: { max: number; ttl: number }): Problem =>
    new Problem(429, 'Too many requests', `more than ${context.max} requests a minute from ${from(request)}; try again in ${Math.ceil(context.ttl / 1000)} seconds`);

/** Patient-facing routes: a limit per client (address), on the scope it is registered in. */
export const publicRateLimit = fp<{ perMinute: number }>(async (app, { perMinute }) => {
  declareProblems(app, 429);
  await app.register(fastifyRateLimit, { max: perMinute, timeWindow: 60_000, errorResponseBuilder: tooManyRequests(() => 'this client') });
});

/**
 * Staff routes: one limit per principal across every staff route, not per address: handlers
 * share an office's address, and one credential used from many addresses is still one caller.
 */
export const staffRateLimit = fp<{ perMinute: number }>(async (app, { perMinute }) => {
  declareProblems(app, 429);
  await app.register(fastifyRateLimit, {
    max: perMinute,
    timeWindow: 60_000,
    // Route hooks run after the scopes' own, so the credential check has named the principal.
    keyGenerator: (request) => {
      if (!request.principal) throw new Error('the staff rate limit ran before the credential check: keep it a route hook');
      return request.principal.id;
    },
    errorResponseBuilder: tooManyRequests((request) => request.principal!.id),
  });
});
