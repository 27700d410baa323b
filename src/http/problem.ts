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
