import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Test } from 'tap';

/**
 * The contract test: every response a test app gives is checked against the committed
 * openapi/openapi.json (status declared, media type, body, declared headers), and a mismatch
 * fails the test that made the app. Responses of no operation (pages, /docs, no route, wrong
 * method) that are errors must still be problem documents.
 */
const DOCUMENT_PATH = path.resolve(import.meta.dirname, '../../openapi/openapi.json');

interface MediaType {
  schema: unknown;
}
interface ResponseObject {
  headers?: Record<string, unknown>;
  content?: Record<string, MediaType>;
}
interface OperationObject {
  responses: Record<string, ResponseObject>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, OperationObject>>;
}

export const DOCUMENT = JSON.parse(readFileSync(DOCUMENT_PATH, 'utf8')) as OpenApiDocument;

const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats.default(ajv);
ajv.addSchema(DOCUMENT as object, 'openapi');

const pointer = (...segments: string[]): string => segments.map((s) => '/' + encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))).join('');
const validators = new Map<string, ValidateFunction>();
function validator(ref: string): ValidateFunction {
  let v = validators.get(ref);
  if (!v) {
    v = ajv.compile({ $ref: `openapi#${ref}` });
    validators.set(ref, v);
  }
  return v;
}

/** A response as the contract sees it. */
export interface Exchange {
  method: string;
  /** The route's pattern, Fastify's way (/v1/assessments/:id), or undefined when no route matched. */
  route: string | undefined;
  status: number;
  headers: Record<string, unknown>;
  /** The body as sent; undefined when it was streamed (files). */
  body: string | undefined;
}

const openApiPath = (route: string): string => route.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** What in this response the document does not allow; empty when it conforms. */
export function contractViolations(exchange: Exchange): string[] {
  const { method, route, status, headers } = exchange;
  // No body on a 204 or 304, whatever the handler gave (HTTP drops it).
  const body = status === 204 || status === 304 ? '' : exchange.body;
  const where = `${method} ${route ?? '(no route)'} ${status}`;
  const operation = route === undefined ? undefined : DOCUMENT.paths[openApiPath(route)]?.[method.toLowerCase()];
  const mediaType = String(headers['content-type'] ?? '')
    .split(';')[0]!
    .trim();
  if (!operation) {
    if (status < 400 || body === undefined) return [];
    if (mediaType !== 'application/problem+json') return [`${where}: an error of no operation must be application/problem+json, not ${mediaType || 'none'}`];
    return check(where, validator(pointer('components', 'schemas', 'Problem')), body);
  }
  const response = operation.responses[String(status)];
  if (!response) return [`${where}: status not declared (declared: ${Object.keys(operation.responses).join(', ')})`];
  const problems = Object.keys(response.headers ?? {})
    .filter((name) => headers[name.toLowerCase()] === undefined)
    .map((name) => `${where}: header ${name} declared but not sent`);
  if (!response.content) {
    return body ? [...problems, `${where}: a body where none is declared`] : problems;
  }
  if (!response.content[mediaType]) return [...problems, `${where}: content-type ${mediaType || 'none'} not declared (declared: ${Object.keys(response.content).join(', ')})`];
  // Text (an event stream, CSV, Prometheus' exposition format) is a string by its schema: only JSON has a shape to check.
  if (body === undefined || !mediaType.endsWith('json')) return problems;
  const path = pointer('paths', openApiPath(route!), method.toLowerCase(), 'responses', String(status), 'content', mediaType, 'schema');
  return [...problems, ...check(where, validator(path), body)];
}

function check(where: string, validate: ValidateFunction, body: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [`${where}: body is not JSON`];
  }
  if (validate(parsed)) return [];
  return (validate.errors ?? []).slice(0, 5).map((e) => `${where}: body${e.instancePath} ${e.message ?? 'invalid'} ${JSON.stringify(e.params)}`);
}

/** Every response of this app, checked; a violation fails `t`, the test that made the app. */
export function enforceContract(t: Test, app: FastifyInstance): void {
  const sent = new WeakMap<FastifyRequest, string | undefined>();
  app.addHook('onSend', async (request, _reply, payload) => {
    sent.set(request, typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : payload === null || payload === undefined ? '' : undefined);
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    // Preflights and HEAD answer for the document's operations without bodies of their own.
    if (request.method === 'OPTIONS' || request.method === 'HEAD' || !sent.has(request)) return;
    const violations = contractViolations({
      method: request.method,
      route: request.routeOptions.url,
      status: reply.statusCode,
      headers: reply.getHeaders(),
      body: sent.get(request),
    });
    for (const violation of violations) t.fail(`contract (openapi/openapi.json): ${violation}`);
  });
}
