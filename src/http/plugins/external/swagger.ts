import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from '@fastify/type-provider-zod';
import type { FastifySchema, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { SOFTWARE } from '../../../software.js';
import { ProblemSchema } from '../../schemas.js';

/** The three ways to call: a staff API key or bearer JWT (docs/security.md), and the patient's assessment token. */
const SECURITY_SCHEMES = {
  apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'A staff API key (TRIAGE_API_KEYS): its role decides which routes it may call.' },
  bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A staff JWT from the identity provider (AUTH_JWKS_URL): its roles claim decides which routes it may call.' },
  assessmentToken: {
    type: 'apiKey',
    in: 'header',
    name: 'x-assessment-token',
    description: "The patient's token for one assessment, returned once by POST /v1/assessments.",
  },
} as const;

const STAFF_SECURITY = [{ apiKey: [] }, { bearer: [] }];
const TOKEN_HEADER = 'x-assessment-token';

const RETRY_AFTER = { type: 'integer', description: 'Seconds to wait before trying again' } as const;

/** What each problem status means, as the document says it. */
const PROBLEM_STATUSES: Record<number, string> = {
  400: 'Invalid request: malformed JSON, or a field of the wrong type or out of range (`errors` says where)',
  401: 'No valid credential',
  403: 'The credential is valid but its role may not do this',
  404: 'No such resource (or a wrong assessment token)',
  409: 'In conflict with the current state',
  413: 'Body over 64 KiB',
  415: 'Body not JSON',
  422: 'Well-formed, but not acceptable to the rules',
  429: 'Too many requests: wait Retry-After seconds',
  500: 'The service failed; the error is logged, and nothing about it is revealed',
  503: 'This instance is shutting down or its database is out of reach: try again after Retry-After seconds',
  507: 'The database disk is full or failing: nothing from this request was stored',
};

/** Statuses any route can answer with: its own failure, and the instance closing or losing its database. */
const EVERY_ROUTE = [500, 503];

/** Problems the request's own shape can cause: a body (parsed, limited, JSON only) and validated parameters. */
function requestProblems(route: RouteOptions, schema: FastifySchema): number[] {
  const statuses = [];
  if ([route.method].flat().includes('POST')) statuses.push(400, 413, 415);
  if (schema.params || schema.querystring || schema.headers) statuses.push(400);
  return statuses;
}

const hasTokenHeader = (schema: FastifySchema): boolean => {
  const headers = schema.headers as { shape?: Record<string, unknown> } | undefined;
  return headers?.shape?.[TOKEN_HEADER] !== undefined;
};

/**
 * Each route as an operation: its security from the scope it is in (a staff access group, or the
 * patient's token header), every problem its scopes and its request shape can answer with
 * (beside its own), and its response headers.
 */
const operation: typeof jsonSchemaTransform = (input) => {
  const { route } = input;
  const schema = input.schema as FastifySchema & { response?: Record<number, unknown>; hide?: boolean };
  if (!schema || schema.hide) return jsonSchemaTransform(input);
  const statuses = new Set([...(route.config?.problems ?? []), ...requestProblems(route, schema)]);
  const response = { ...schema.response };
  for (const status of [...statuses].sort()) response[status] ??= ProblemSchema;
  const security = route.config?.access ? STAFF_SECURITY : hasTokenHeader(schema) ? [{ assessmentToken: [] }] : [];
  const transformed = jsonSchemaTransform({ ...input, schema: { ...schema, response, security } as typeof input.schema });
  const out = transformed.schema as { response: Record<number, Record<string, unknown>> };
  for (const [status, headers] of Object.entries({ ...route.config?.responseHeaders, ...(statuses.has(429) ? { 429: { 'Retry-After': RETRY_AFTER } } : {}) })) {
    out.response[Number(status)] = { ...out.response[Number(status)], headers };
  }
  return transformed;
};

interface Operation {
  requestBody?: { required: boolean; content: Record<string, { schema: { type?: string; anyOf?: { type?: string }[] } }> };
  responses: Record<string, { description: string; headers?: Record<string, unknown>; content?: Record<string, { schema: unknown }> }>;
}
/** The parts of the document finish() rewrites. */
interface Document {
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown> };
}
type OpenApiObject = ReturnType<typeof jsonSchemaTransformObject>;

const PROBLEM_REF = '#/components/schemas/Problem';
const JSON_TYPE = 'application/json';
const PROBLEM_TYPE = 'application/problem+json';

/** A body the route may go without (a nullish zod schema: claim, renew, release, attempts) is not required. */
function optionalBody(op: Operation): void {
  const media = op.requestBody?.content[JSON_TYPE];
  const some = media?.schema.anyOf?.filter((s) => s.type !== 'null');
  if (media && some && some.length === 1 && media.schema.anyOf!.length === 2) {
    op.requestBody!.required = false;
    media.schema = some[0]!;
  }
}

/**
 * Error bodies in the media type they are sent with; the statuses every route shares, with
 * Retry-After where it is sent; problems described by status. Only the schemas the operations
 * use are kept (the zod registry holds an input and an output variant of each).
 */
function finish(input: OpenApiObject): OpenApiObject {
  const document = input as Document;
  for (const path of Object.values(document.paths ?? {})) {
    for (const op of Object.values(path)) {
      optionalBody(op);
      for (const status of EVERY_ROUTE) op.responses[status] ??= { description: '' };
      for (const [status, response] of Object.entries(op.responses)) {
        const code = Number(status);
        if (code < 400) continue;
        // Problems are problem+json whatever the route produces (the event stream's 401, say).
        const isProblem = Object.values(response.content ?? {}).some((media) => (media.schema as { $ref?: string }).$ref === PROBLEM_REF);
        if (isProblem) response.content = { [PROBLEM_TYPE]: { schema: { $ref: PROBLEM_REF } } };
        response.content ??= {};
        if (EVERY_ROUTE.includes(code)) response.content[PROBLEM_TYPE] ??= { schema: { $ref: PROBLEM_REF } };
        if (code === 503) response.headers = { 'Retry-After': { description: RETRY_AFTER.description, schema: { type: RETRY_AFTER.type } }, ...response.headers };
        if (response.description === 'Default Response' || response.description === '') response.description = PROBLEM_STATUSES[code] ?? 'Problem';
      }
    }
  }
  const schemas = document.components?.schemas ?? {};
  const used = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && typeof value === 'string' && value.startsWith('#/components/schemas/')) {
          const name = value.slice('#/components/schemas/'.length);
          if (!used.has(name)) {
            used.add(name);
            visit(schemas[name]);
          }
        } else visit(value);
      }
    }
  };
  visit(document.paths);
  document.components = { ...document.components, schemas: Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name))) };
  return input;
}

/** The style element Swagger UI adds as it renders (test/http/docs-page.test.ts finds it if that changes). */
const SWAGGER_UI_RENDERED_STYLE = 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w=';

/** The OpenAPI document from the routes' zod schemas (openapi/openapi.json), and Swagger UI at /docs. */
export default fp<{ behindTls: boolean }>(
  async (app, { behindTls }) => {
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Triage service API',
          description: 'Clinician-authored rule sets decide self-care, a clinician callback or escalation; every decision is traced.',
          version: SOFTWARE.app,
          license: { name: 'MIT', identifier: 'MIT' },
        },
        // Relative: the instance serving the document (and Swagger UI) is the one to call.
        servers: [{ url: '/', description: 'The instance serving this document' }],
        components: { securitySchemes: SECURITY_SCHEMES },
        tags: [
          { name: 'pathways', description: 'What a patient can be assessed on' },
          { name: 'assessments', description: 'Step-by-step assessments, one question at a time' },
          { name: 'triage', description: 'Stateless triage for frontends that keep the answers' },
          { name: 'traces', description: 'Decision traces: read, explain, verify, replay' },
          { name: 'callbacks', description: 'The clinician callback queue for call handlers' },
          { name: 'releases', description: 'Rule-set releases: sign-off, history and going live' },
        ],
      },
      transform: operation,
      transformObject: (input) => finish(jsonSchemaTransformObject(input)),
    });
    await app.register(fastifySwaggerUi, {
      routePrefix: '/docs',
      // Swagger UI sets its own CSP on its own pages, with the hashes of its inline scripts and
      // styles; plus the one style it injects as it renders, and upgrade-insecure-requests only
      // where browsers arrive over HTTPS (as helmet.ts, BEHIND_TLS).
      staticCSP: true,
      transformStaticCSP: (csp) => csp.replace(/style-src ([^;]*)/, `style-src $1 '${SWAGGER_UI_RENDERED_STYLE}'`).replace(/\s*upgrade-insecure-requests;?/, behindTls ? '; upgrade-insecure-requests;' : ''),
    });
  },
  { name: 'swagger' },
);
