import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from '@fastify/type-provider-zod';
import { DomainError, type AnyDomainError, type DomainErrorCode } from '../errors.js';
import { Problem, type FieldError } from './problem.js';
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

/** How a domain error is answered: its status and title, and where in the request its fields are. */
interface ProblemShape {
  status: number;
  title: string;
  /** Where the error's fields are: the body unless said otherwise. */
  in?: 'body' | 'headers' | 'query';
  type?: string;
}

type DomainProblems = { [C in DomainErrorCode]: ProblemShape | ((error: Extract<AnyDomainError, { code: C }>) => ProblemShape) };

/** Every domain error's answer, in one table: the only place a domain refusal meets HTTP. */
const DOMAIN_PROBLEMS: DomainProblems = {
  not_found: { status: 404, title: 'Not found' },
  pathway_does_not_apply: { status: 422, title: 'Pathway does not apply' },
  invalid_patient: { status: 422, title: 'Invalid patient' },
  unknown_question: { status: 422, title: 'Unknown question' },
  question_not_asked: { status: 409, title: 'Question not asked' },
  invalid_answer: (e) => ({ status: 422, title: e.several ? 'Invalid answers' : 'Invalid answer' }),
  assessment_token_required: { status: 401, title: 'Assessment token required', in: 'headers' },
  assessment_changed: { status: 409, title: 'Assessment changed' },
  invalid_contact: { status: 422, title: 'Invalid contact details' },
  no_callback_for_assessment: { status: 409, title: 'No callback for this assessment' },
  callback_conflict: (e) => ({ status: 409, title: { claimed_by_other: 'Claimed by someone else', closed: 'Callback closed', not_claimed: 'Not claimed' }[e.reason] }),
  not_allowed: (e) => ({ status: 403, title: { access: 'Forbidden', cancel_override: 'Override not allowed', author_sign_off: 'Author cannot sign off' }[e.refused] }),
  not_authenticated: { status: 401, title: 'Unauthorised' },
  release_refused: (e) =>
    ({
      invalid: { status: 422, title: 'Invalid release' },
      version_not_bumped: { status: 409, title: 'Version not bumped' },
      already_signed_off: { status: 409, title: 'Already signed off' },
      not_signed_off: { status: 409, title: 'Release not signed off' },
      none_active: { status: 409, title: 'No release is active' },
      sign_off_required: { status: 409, title: 'Sign-off required' },
    })[e.reason],
  invalid_verify_range: { status: 400, title: 'Invalid request', in: 'query' },
  invalid_report_range: { status: 400, title: 'Invalid request', in: 'query' },
  verification_running: { status: 409, title: 'Verification running' },
  trace_altered: { status: 500, title: 'Trace altered' },
};

/** A domain error as the problem it is answered with. */
export function problemOf(error: DomainError): Problem {
  const entry = DOMAIN_PROBLEMS[error.code] as ProblemShape | ((error: DomainError) => ProblemShape);
  const shape = typeof entry === 'function' ? entry(error) : entry;
  const errors: FieldError[] = error.fields.map((f) => ({ path: [shape.in ?? 'body', ...f.path], message: f.message }));
  return new Problem(shape.status, shape.title, error.message, errors, shape.type);
}

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
  app.setErrorHandler((thrown: FastifyError, request, reply) => {
    const error = thrown instanceof DomainError ? problemOf(thrown) : thrown;
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

  const allowed = allowedMethods(app);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const methods = allowed(path);
    if (methods.length) {
      // A known path asked with the wrong method: say which it takes (RFC 9110), not that it is missing.
      reply.header('allow', methods.join(', '));
      return send(reply, request, new Problem(405, 'Method not allowed', `${request.method} is not allowed on ${path}: use ${methods.join(' or ')}`));
    }
    return send(reply, request, new Problem(404, 'Not found', `no route ${request.method} ${path}`, [], 'https://triage.example/problems/not-found'));
  });
}

/**
 * The methods each route path takes, from every route registered after this: a lookup of a
 * concrete path. Wildcard routes (the static pages, CORS preflights) name no path of their own.
 */
function allowedMethods(app: FastifyInstance): (path: string) => string[] {
  const byPattern = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  app.addHook('onRoute', (route) => {
    if (route.url.includes('*')) return;
    const entry = byPattern.get(route.url) ?? { pattern: new RegExp(`^${route.url.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[^/]+/g, '[^/]+')}$`), methods: new Set<string>() };
    for (const method of [route.method].flat()) entry.methods.add(method);
    byPattern.set(route.url, entry);
  });
  return (path) => [...new Set([...byPattern.values()].filter((e) => e.pattern.test(path)).flatMap((e) => [...e.methods]))].sort();
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
    // It answers through done; what it returns is nothing to wait for.
    void parse(request, body as string, done);
  });
}
