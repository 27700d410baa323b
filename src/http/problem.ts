import type { FastifyInstance } from 'fastify';
import type { FieldError } from '../errors.js';

export type { FieldError } from '../errors.js';

/**
 * An RFC 9457 problem: what was wrong and where, with its HTTP status. Made by the HTTP layer
 * only (domain errors are mapped to one in errors.ts) and rendered as application/problem+json
 * by the one error handler.
 */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    /** Where in the request: ["body", "value"], ["params", "id"], ... */
    readonly errors: FieldError[] = [],
    readonly type = `https://triage.example/problems/${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`,
  ) {
    super(detail);
    this.name = 'Problem';
  }
}

export const notFound = (what: string, id: string): Problem => new Problem(404, 'Not found', `${what} ${id} does not exist`, [], 'https://triage.example/problems/not-found');

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The problem statuses the scopes around a route can answer with (its credential check, rate limit, the store): documented for it. */
    problems?: number[];
    /** Headers the route's responses carry, by status, as the OpenAPI document describes them. */
    responseHeaders?: Record<number, Record<string, { type: 'string' | 'integer'; description: string }>>;
  }
}

/**
 * Declares, for every route of this scope registered from now on, the problem statuses the scope
 * itself can answer with, so the OpenAPI document lists them on each route (plugins/external/swagger.ts).
 */
export function declareProblems(app: FastifyInstance, ...statuses: number[]): void {
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, problems: [...(route.config?.problems ?? []), ...statuses] };
  });
}
