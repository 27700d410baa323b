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
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import helmet from 'helmet';
import type { DestinationStream } from 'pino';
import { assessmentService, type AssessmentService } from './assessments/service.js';
import { callbackService, type CallbackService } from './callbacks/service.js';
import type { Config } from './config.js';
import { DecisionPool } from './decisions/pool.js';
import { localDecider } from './decisions/step.js';
import { staffOnly } from './http/auth.js';
import { limitJsonDepth, MAX_JSON_DEPTH, registerErrorHandling } from './http/errors.js';
import { Problem } from './problem.js';
import type { Access } from './security/roles.js';
import { setUpSecurity } from './security/setup.js';
import assessmentRoutes from './http/routes/assessments.js';
import callbackRoutes from './http/routes/callbacks.js';
import benchEcho from './http/routes/bench-echo.js';
import healthRoutes from './http/routes/health.js';
import pageRoutes from './http/routes/pages.js';
import { releaseActivation, releaseList } from './http/routes/releases.js';
import { releaseService, type ReleaseService } from './releases/service.js';
import pathwayRoutes from './http/routes/pathways.js';
import traceRoutes from './http/routes/traces.js';
import triageRoutes from './http/routes/triage.js';
import { loadRuleCatalog } from './rulesets/loader.js';
import { openStore, type Store } from './store/database.js';
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
    /** Every route with the staff access group it needs (none: public); the README's matrix. */
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
      ...(options.logStream ? { stream: options.logStream } : {}),
    },
    genReqId: () => randomUUID(),
    bodyLimit: 64 * 1024,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
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
  // The API speaks JSON only: anything else is a 415, not a string handed to validation.
  app.removeContentTypeParser('text/plain');
  limitJsonDepth(app, MAX_JSON_DEPTH);

  const catalog = await loadRuleCatalog(config.RULES_DIR);
  // A fail-safe is a clinical incident to look into; the log line names no patient data.
  const onFailSafe = (cause: string, detail: string) => app.log.error({ cause, detail }, 'triage fell back to the conservative outcome');
  const settings = { timeoutMs: config.TRIAGE_EVAL_TIMEOUT_MS, ruleEvaluation: config.TRIAGE_RULE_EVALUATION };
  const triage = new Triage(catalog.versions.values(), { ...settings, onFailSafe });
  const decider = config.TRIAGE_WORKERS > 0 ? new DecisionPool({ ...settings, threads: config.TRIAGE_WORKERS, onFailSafe }) : localDecider(triage);
  const store = await openStore(config.DATABASE_URL, (err) => app.log.warn({ err: { message: err.message } }, 'database connection error; reconnecting'));
  app.decorate('store', store);
  app.decorate('triage', triage);
  app.decorate('assessments', assessmentService(store, triage, decider));
  app.decorate('traces', traceRepository(store.db));
  const verifications = verificationService(store, config.DATABASE_URL);
  app.decorate('verifications', verifications);
  const security = await setUpSecurity(config);
  const callbacks = callbackService(store, { leaseSeconds: config.CALLBACK_LEASE_SECONDS, cipher: security.cipher, now: options.now });
  await callbacks.listen();
  app.decorate('callbacks', callbacks);
  const releases = releaseService(store, triage, {
    requireSignOff: (config.RELEASE_REQUIRE_SIGNOFF ?? (config.NODE_ENV === 'production' ? 'true' : 'false')) === 'true',
    onActivated: (id) => app.log.info({ release: id, pathways: triage.pathways().map((p) => `${p.id}@${p.hash.slice(0, 12)}`) }, 'release active'),
  });
  // Serve the database's active release if one was ever activated; otherwise the rule files.
  await releases.follow((err) => app.log.error({ err: { message: err.message } }, 'could not switch release; the current one keeps serving'));
  app.decorate('releases', releases);
  app.decorateRequest('principal', null);
  app.addHook('onClose', async () => {
    // Decisions still in workers are finished first: their writes then reach the store's queue
    // before it drains and closes.
    await decider.close();
    await verifications.close();
    await store.close();
  });
  if (security.devKeys) {
    app.log.warn({ keysFile: security.devKeys.file }, 'development mode: staff API keys and the contact encryption key were generated, not configured; never use this in production');
    if (security.devKeys.created) {
      // Shown once, when generated, on the terminal rather than in the logs.
      process.stderr.write(
        `\nDevelopment API keys (send as x-api-key), kept in ${security.devKeys.file}:\n` +
          Object.entries(security.devKeys.apiKeys).map(([role, key]) => `  ${role.padEnd(12)} ${key}`).join('\n') +
          '\n\n',
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
          errorResponseBuilder: (_request, context) =>
            new Problem(429, 'Too many requests', `more than ${context.max} requests a minute from this client; try again in ${Math.ceil(context.ttl / 1000)} seconds`),
        });
        await publicRoutes.register(pathwayRoutes);
        await publicRoutes.register(assessmentRoutes);
        await publicRoutes.register(triageRoutes);
      });
      // Staff routes: one encapsulated scope per access group, each behind its credential check.
      const staffScopes: [Access, FastifyPluginAsyncZod][] = [
        ['traces', traceRoutes],
        ['callbacks', callbackRoutes],
        ['releases', releaseList],
        ['releaseActivation', releaseActivation],
      ];
      for (const [access, routes] of staffScopes) {
        await v1.register(async (staff) => {
          staffOnly(staff, access, security);
          await staff.register(routes);
        });
      }
    },
    { prefix: '/v1' },
  );
  return app;
}
