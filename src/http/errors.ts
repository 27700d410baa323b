import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from '@fastify/type-provider-zod';
import { Problem, type FieldError } from '../problem.js';
import { describeStoreError, storeFault, type StoreFaultKind } from '../store/faults.js';

const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';

/** Every 503 says when to try again: long enough for a restart or a failover to finish. */
export const RETRY_AFTER_SECONDS = 2;

/** What a client is told when the database, or the disk under it, lets the service down. */
const STORE_PROBLEMS: Record<StoreFaultKind, () => Problem> = {
  unavailable: () => new Problem(503, 'Database unavailable', 'the database cannot be reached just now; try again shortly'),
  disk_full: () => new Problem(507, 'Storage full', 'the database disk is full, so nothing from this request was stored; try again later'),
  io: () => new Problem(507, 'Storage failure', 'the database disk reported an I/O error, so nothing from this request was stored; try again later'),
};

function send(reply: FastifyReply, request: FastifyRequest, problem: Problem): FastifyReply {
  if (problem.status === 503) {
    reply.header('retry-after', RETRY_AFTER_SECONDS);
  }
  return reply
    .code(problem.status)
    .type(PROBLEM_TYPE)
    .send({
      type: problem.type,
      title: problem.title,
      status: problem.status,
      detail: problem.detail,
      instance: request.url.split('?')[0],
      ...(problem.errors.length ? { errors: problem.errors } : {}),
    });
}

/** Fastify's own client errors, in plain words. */
const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; title: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, title: 'Malformed JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, title: 'Malformed JSON' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, title: 'Body too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, title: 'Invalid content length' },
};

/**
 * The one error handler: every 4xx is a problem document saying what was wrong and where; a
 * database out of reach is a 503 with Retry-After, a full or failing disk a 507, each logged
 * by its cause; anything else is logged in full and answered with a 500 that reveals nothing.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof Problem) {
      if (error.status >= 500) {
        // The service's own fault (an altered trace, say): an incident to look into. Problems
        // name no patient data, so the detail is logged as it is.
        request.log.error({ problem: error.type, detail: error.detail }, error.title);
      }
      return send(reply, request, error);
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const errors: FieldError[] = error.validation.map((v) => ({
        path: [error.validationContext ?? 'body', ...v.instancePath.split('/').filter(Boolean)],
        message: v.message ?? 'invalid',
      }));
      const detail = errors.map((e) => `${e.path.join('.')}: ${e.message}`).join('; ');
      return send(reply, request, new Problem(400, 'Invalid request', detail, errors));
    }
    const known = error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined;
    if (known) {
      return send(reply, request, new Problem(known.status, known.title, error.message));
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return send(reply, request, new Problem(error.statusCode, 'Bad request', error.message));
    }
    const fault = storeFault(error);
    if (fault) {
      request.log.warn({ err: { message: error.message, code: error.code } }, describeStoreError(error));
      return send(reply, request, STORE_PROBLEMS[fault]());
    }
    request.log.error({ err: error }, 'unhandled error');
    return send(reply, request, new Problem(500, 'Internal error', 'the service could not complete this request; it has been logged'));
  });

  app.setNotFoundHandler((request, reply) =>
    send(reply, request, new Problem(404, 'Not found', `no route ${request.method} ${request.url.split('?')[0]}`, [], 'https://triage.example/problems/not-found')),
  );
}

/** Deeper JSON than any request of this API needs is refused before it is parsed. */
export const MAX_JSON_DEPTH = 16;

function depthOf(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') max = Math.max(max, ++depth);
    else if (c === '}' || c === ']') depth--;
  }
  return max;
}

/** Fastify's own JSON parser (prototype-poisoning safe), behind a nesting-depth limit. */
export function limitJsonDepth(app: FastifyInstance, maxDepth: number): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (depthOf(body as string) > maxDepth) {
      done(new Problem(400, 'JSON too deep', `request bodies may nest at most ${maxDepth} levels`), undefined);
      return;
    }
    parse(request, body as string, done);
  });
}
