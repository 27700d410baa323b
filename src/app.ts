import { randomUUID } from 'node:crypto';
import { serializerCompiler, validatorCompiler } from '@fastify/type-provider-zod';
import type { Server } from 'node:http';
import type { FastifyHttpOptions, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { DestinationStream } from 'pino';
import type { Config } from './config.js';
import auth from './http/plugins/app/auth.js';
import errorHandling from './http/plugins/app/error-handling.js';
import services from './http/plugins/app/services.js';
import { OneLinePerRequest, requestLogView } from './http/request-log.js';
import cors from './http/plugins/external/cors.js';
import securityHeaders from './http/plugins/external/helmet.js';
import swagger from './http/plugins/external/swagger.js';
import benchEcho from './http/routes/bench-echo.js';
import healthRoutes from './http/routes/health.js';
import metricsRoutes from './http/routes/metrics.js';
import pageRoutes from './http/routes/pages.js';
import v1 from './http/routes/v1/index.js';
import { createServices } from './services.js';

/** How often Node looks for requests past their time: by default every 30 s, so up to 30 s late. */
const REQUEST_TIMEOUT_CHECK_MS = 1_000;

/** Paths pino must never print: credentials, and the assessment token once it exists. */
export const REDACTED_LOG_PATHS = ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]', 'req.headers["x-assessment-token"]'];

/** The Fastify instance's own options: logging, limits and timeouts. */
export function serverOptions(config: Config, logStream?: DestinationStream): FastifyHttpOptions<Server> {
  return {
    logger: {
      level: config.LOG_LEVEL,
      redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
      serializers: { req: requestLogView },
      ...(logStream ? { stream: logStream } : {}),
    },
    logController: new OneLinePerRequest(),
    genReqId: () => randomUUID(),
    bodyLimit: 64 * 1024,
    connectionTimeout: 30_000,
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    // Given to Node's server as well: Fastify sets requestTimeout only after creating it, beside
    // the default headersTimeout (60 s), and with the headers' time the longer Node applies only
    // that, so a slowly sent body stayed open 60 to 90 s.
    http: { requestTimeout: config.REQUEST_TIMEOUT_MS, headersTimeout: config.REQUEST_TIMEOUT_MS, connectionsCheckingInterval: REQUEST_TIMEOUT_CHECK_MS },
    keepAliveTimeout: 5_000,
    // Requests arriving while closing get a problem+json 503 with Retry-After (error-handling), not Fastify's own.
    return503OnClosing: false,
    trustProxy: config.TRUST_PROXY === 'true',
    // Start-up loads and checks every rule file, opens and migrates the database and starts the
    // decision workers inside the app plugin: on a loaded machine that outlasts Fastify's 10 s
    // per plugin, and a slow start is not a failed one. Every plugin here is async.
    pluginTimeout: 0,
  };
}

export interface AppOptions {
  config: Config;
  /** The callback queue's clock (due times, leases); tests move it forward. */
  now?: () => Date;
}

/**
 * The whole service as one plugin: the services built (rules loaded and checked, or start-up
 * fails; the store opened and migrated), then the plugins and routes over them. The server and
 * the tests create the instance (with serverOptions) and register this.
 */
const app: FastifyPluginAsync<AppOptions> = async (app, { config, now }) => {
  // The app's own plugins first: the route table and error handling see every route after them.
  await app.register(auth);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await app.register(errorHandling);
  const built = await createServices(config, { log: app.log, now });
  await app.register(services, { services: built });
  await app.register(securityHeaders, { behindTls: config.BEHIND_TLS === 'true' });
  await app.register(cors, { origins: config.CORS_ORIGINS });
  await app.register(swagger, { behindTls: config.BEHIND_TLS === 'true' });

  // A request cut off before its answer (the client gone, or the request timeout's 408, which
  // Node sends itself) gets no "request completed" line (OneLinePerRequest): this is its one line.
  app.addHook('onRequestAbort', async (request) => {
    request.log.info({ req: request }, 'request aborted');
  });

  // First, so that its latency hook sees every route.
  await app.register(fp(metricsRoutes), { security: built.security, token: config.METRICS_TOKEN });
  await app.register(healthRoutes);
  if (config.BENCH_ECHO === 'true') {
    await app.register(benchEcho);
  }
  await app.register(pageRoutes);
  await app.register(v1, { prefix: '/v1', config, security: built.security });
};

export default fp(app, { name: 'triage-app' });
