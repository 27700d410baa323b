/**
 * An RFC 9457 problem: what was wrong and where. Thrown by domain code (no Fastify here) and
 * rendered as application/problem+json by the HTTP layer's one error handler.
 */
export interface FieldError {
  /** Where in the request: ["body", "value"], ["params", "id"], ... */
  path: (string | number)[];
  message: string;
}

export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
    readonly type = `https://triage.example/problems/${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`,
  ) {
    super(detail);
    this.name = 'Problem';
  }
}

export const notFound = (what: string, id: string): Problem => new Problem(404, 'Not found', `${what} ${id} does not exist`, [], 'https://triage.example/problems/not-found');
