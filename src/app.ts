import { randomUUID } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type FastifyPluginAsyncZod,
  type ZodTypeProvider,
} from '@fastify/type-provider-zod';
import fastifyCors from '@fastify/cors';
import fastifyRateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, type FastifyRequest, type RouteOptions } from 'fastify';
import helmet from 'helmet';
import type { DestinationStream } from 'pino';
import { assessmentService, type AssessmentService } from './assessments/service.js';
import { callbackService, type CallbackService } from './callbacks/service.js';
import type { Config } from './config.js';
import { DecisionPool } from './triage/decision-pool.js';
import { localDecider } from './triage/step.js';
import { staffOnly } from './http/auth.js';
import { limitJsonDepth, MAX_JSON_DEPTH, registerErrorHandling } from './http/errors.js';
import { requestLogView } from './http/request-log.js';
import { Problem } from './problem.js';
import type { Access } from './security/roles.js';
import { setUpSecurity } from './security/setup.js';
import assessmentRoutes from './http/routes/assessments.js';
import callbackRoutes from './http/routes/callbacks.js';
import benchEcho from './http/routes/bench-echo.js';
import healthRoutes from './http/routes/health.js';
import pageRoutes from './http/routes/pages.js';
import { releaseActivation, releaseList, releaseSignOff } from './http/routes/releases.js';
import { releaseService, requiresSignOff, type ReleaseService } from './releases/service.js';
import pathwayRoutes from './http/routes/pathways.js';
import searchRoutes from './http/routes/search.js';
import traceRoutes from './http/routes/traces.js';
import triageRoutes from './http/routes/triage.js';
import { loadRuleCatalog } from './rulesets/loader.js';
import { openStore, type Store } from './store/store.js';
import { describeStoreError } from './store/faults.js';
import { traceRepository, type TraceRepository } from './store/traces.js';
import { verificationService, type VerificationService } from './traces/verification.js';
import { Triage } from './triage/triage.js';
import { SOFTWARE } from './version.js';

declare module 'fastify' {
  interface FastifyInstance {
    store: Store;
    triage: Triage;
    assessments: AssessmentService;
    traces: TraceRepository;
    verifications: VerificationService;
    callbacks: CallbackService;
    releases: ReleaseService;
    /** Every route with the staff access group it needs (none: public); the matrix in docs/security.md. */
    routeAccess(): { method: string; url: string; access?: Access }[];
  }
}

export interface AppOptions {
  config: Config;
  /** Where logs go (tests capture them); stdout when absent. */
  logStream?: DestinationStream;
  /** The callback queue's clock (due times, leases); tests move it forward. */
  now?: () => Date;
}

/** How often Node looks for requests past their time: by default every 30 s, so up to 30 s late. */
const REQUEST_TIMEOUT_CHECK_MS = 1_000;

/** A 429 in the problem shape; Retry-After is set by the rate limiter. */
const tooManyRequests =
  (from: (request: FastifyRequest) => string) =>
  (request: FastifyRequest, context: { max: number; ttl: number }): Problem =>
    new Problem(429, 'Too many requests', `more than ${context.max} requests a minute from ${from(request)}; try again in ${Math.ceil(context.ttl / 1000)} seconds`);

/** Paths pino must never print: credentials, and the assessment token once it exists. */
export const REDACTED_LOG_PATHS = ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]', 'req.headers["x-assessment-token"]'];

/**
 * Builds the whole service: rules loaded and checked (or start-up fails), the store opened and
 * migrated, engines prepared, routes registered. The server and the tests both start here.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const app = Fastify({
    logger: {
      level: config.LOG_LEVEL,
      redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
      serializers: { req: requestLogView },
      ...(options.logStream ? { stream: options.logStream } : {}),
    },
    genReqId: () => randomUUID(),
    bodyLimit: 64 * 1024,
    connectionTimeout: 30_000,
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    // Given to Node's server as well: Fastify sets requestTimeout only after creating it, beside
    // the default headersTimeout (60 s), and with the headers' time the longer Node applies only
    // that, so a slowly sent body stayed open 60 to 90 s.
    http: { requestTimeout: config.REQUEST_TIMEOUT_MS, headersTimeout: config.REQUEST_TIMEOUT_MS, connectionsCheckingInterval: REQUEST_TIMEOUT_CHECK_MS },
    keepAliveTimeout: 5_000,
    // Requests arriving while closing get a problem+json 503 with Retry-After (below), not Fastify's own.
    return503OnClosing: false,
    trustProxy: config.TRUST_PROXY === 'true',
  }).withTypeProvider<ZodTypeProvider>();

  // Read lazily: a scope's own onRoute hook sets the access group after this one has run.
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
  app.decorate('routeAccess', () =>
    routes.flatMap((route) => [route.method].flat().filter((m) => m !== 'HEAD').map((method) => ({ method, url: route.url, access: route.config?.access }))),
  );
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(app);
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (closing) {
      reply.header('connection', 'close');
      throw new Problem(503, 'Shutting down', 'this instance is shutting down; try again and another instance will answer');
    }
  });
  // The API speaks JSON only: anything else is a 415, not a string handed to validation.
  app.removeContentTypeParser('text/plain');
  limitJsonDepth(app, MAX_JSON_DEPTH);

  const catalog = await loadRuleCatalog(config.RULES_DIR);
  // A fail-safe is a clinical incident to look into; the log line names no patient data.
  const onFailSafe = (cause: string, detail: string) => app.log.error({ cause, detail }, 'triage fell back to the conservative outcome');
  const settings = { timeoutMs: config.TRIAGE_EVAL_TIMEOUT_MS, ruleEvaluation: config.TRIAGE_RULE_EVALUATION };
  const triage = new Triage(catalog.versions.values(), { ...settings, onFailSafe });
  const decider = config.TRIAGE_WORKERS > 0 ? new DecisionPool({ ...settings, threads: config.TRIAGE_WORKERS, onFailSafe }) : localDecider(triage);
  const store = await openStore(config.DATABASE_URL, (err) => app.log.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, describeStoreError(err)));
  app.decorate('store', store);
  app.decorate('triage', triage);
  const verifications = verificationService(store, config.DATABASE_URL);
  app.decorate('verifications', verifications);
  const security = await setUpSecurity(config);
  const callbacks = callbackService(store, {
    leaseSeconds: config.CALLBACK_LEASE_SECONDS,
    cipher: security.cipher,
    dramaNumbers: config.NODE_ENV !== 'production',
    now: options.now,
  });
  await callbacks.sealClearText();
  await callbacks.listen();
  app.decorate('callbacks', callbacks);
  app.decorate('assessments', assessmentService(store, triage, decider, callbacks));
  app.decorate('traces', traceRepository());
  const releases = releaseService(store, triage, {
    requireSignOff: requiresSignOff(config),
    files: [...catalog.versions.values()],
    onActivated: (id) =>
      app.log.info({ release: id, pathways: triage.pathways().map((p) => `${p.id}@${p.hash.slice(0, 12)}`) }, id ? 'release active' : `serving the rule files in ${config.RULES_DIR}`),
  });
  // Serve the database's active release if one is active; otherwise the rule files.
  await releases.follow((err) => app.log.error({ err: { message: err.message } }, 'could not switch release; the current one keeps serving'));
  const live = await releases.current();
  if (live) {
    // Said once, at start-up: edits to the rule files do not go live while a release serves.
    app.log.warn(
      { release: live.releaseId, activatedAt: live.at, activatedBy: live.by, rulesDir: config.RULES_DIR },
      `serving release ${live.releaseId} (activated ${live.at} by ${live.by}), not the rule files in ${config.RULES_DIR}; ${releases.filesAgain()}`,
    );
  }
  app.decorate('releases', releases);
  app.decorateRequest('principal', null);
  app.addHook('onClose', async () => {
    releases.stop();
    // Decisions still in workers are finished first: their writes then reach the store's queue
    // before it drains and closes.
    await decider.close();
    await verifications.close();
    await store.close();
  });
  if (security.devKeys) {
    // One line at every start saying which generated keys are in use and where; never the keys.
    const { file, created, apiKeys, encryptionKey } = security.devKeys;
    const generated = [apiKeys && 'staff API keys', encryptionKey && 'the contact encryption key'].filter(Boolean);
    app.log.warn(
      { keysFile: file },
      `development mode: ${generated.join(' and ')} ${generated.length > 1 ? 'were' : 'was'} generated, not configured, and kept in ${file}; never use this in production`,
    );
    if (apiKeys && created) {
      // Shown once, when generated, on the terminal rather than in the logs.
      process.stderr.write(
        `\nDevelopment API keys (send as x-api-key), kept in ${file}:\n` + Object.entries(apiKeys).map(([role, key]) => `  ${role.padEnd(12)} ${key}`).join('\n') + '\n\n',
      );
    }
  }

  // Security headers; the CSP is one the bundled pages satisfy (no inline script or style).
  // helmet() turns its options into header values once, here: @fastify/helmet calls it afresh on
  // every request, which was a third of a small request's server time.
  const securityHeaders = helmet({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'https://assets.nhs.uk'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
      },
    },
  });
  app.addHook('onRequest', (request, reply, done) => securityHeaders(request.raw, reply.raw, () => done()));
  await app.register(fastifyCors, { origin: config.CORS_ORIGINS ? config.CORS_ORIGINS.split(',').map((o) => o.trim()) : false });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Triage service API',
        description: 'Clinician-authored rule sets decide self-care, a clinician callback or escalation; every decision is traced.',
        version: SOFTWARE.app,
      },
      tags: [
        { name: 'pathways', description: 'What a patient can be assessed on' },
        { name: 'assessments', description: 'Step-by-step assessments, one question at a time' },
        { name: 'triage', description: 'Stateless triage for frontends that keep the answers' },
        { name: 'traces', description: 'Decision traces: read, explain, verify, replay' },
        { name: 'callbacks', description: 'The clinician callback queue for call handlers' },
        { name: 'releases', description: 'Rule-set releases: sign-off, history and going live' },
        { name: 'health', description: 'Liveness and readiness' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  // Swagger UI sets its own CSP on its own pages (it needs inline styles).
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });

  await app.register(healthRoutes);
  if (config.BENCH_ECHO === 'true') {
    await app.register(benchEcho);
  }
  await app.register(pageRoutes);
  await app.register(
    async (v1) => {
      // Patient-facing routes: no staff credential, rate limited per client.
      await v1.register(async (publicRoutes) => {
        await publicRoutes.register(fastifyRateLimit, {
          max: config.RATE_LIMIT_PER_MINUTE,
          timeWindow: 60_000,
          errorResponseBuilder: tooManyRequests(() => 'this client'),
        });
        await publicRoutes.register(pathwayRoutes);
        await publicRoutes.register(searchRoutes);
        await publicRoutes.register(assessmentRoutes);
        await publicRoutes.register(triageRoutes);
      });
      // Staff routes: one encapsulated scope per access group, each behind its credential check.
      const staffScopes: [Access, FastifyPluginAsyncZod][] = [
        ['traces', traceRoutes],
        ['callbacks', callbackRoutes],
        ['releases', releaseList],
        ['releaseSignOff', releaseSignOff],
        ['releaseActivation', releaseActivation],
      ];
      await v1.register(async (staffRoutes) => {
        // One limit per principal across every staff route, not per address: handlers share an
        // office's address, and one credential used from many addresses is still one caller.
        await staffRoutes.register(fastifyRateLimit, {
          max: config.STAFF_RATE_LIMIT_PER_MINUTE,
          timeWindow: 60_000,
          // Route hooks run after the scopes' own, so the credential check has named the principal.
          keyGenerator: (request) => {
            if (!request.principal) throw new Error('the staff rate limit ran before the credential check: keep it a route hook');
            return request.principal.id;
          },
          errorResponseBuilder: tooManyRequests((request) => request.principal!.id),
        });
        for (const [access, routes] of staffScopes) {
          await staffRoutes.register(async (staff) => {
            staffOnly(staff, access, security);
            await staff.register(routes);
          });
        }
      });
    },
    { prefix: '/v1' },
  );
  return app;
}
