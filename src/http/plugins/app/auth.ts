import type { FastifyInstance, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { declareProblems, Problem } from '../../problem.js';
import { authorise, type Access, type Principal } from '../../../security/roles.js';
import { identify, type Security } from '../../../security/setup.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route with the staff access group it needs (none: public); the matrix in docs/security.md. */
    routeAccess(): { method: string; url: string; access?: Access }[];
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Which staff access group a route belongs to; absent on public routes. */
    access?: Access;
  }
}

/** Who is calling (`request.principal`, set on staff routes), and which route needs whom. */
export default fp(
  async (app) => {
    // Read lazily: a scope's own onRoute hook sets the access group after this one has run.
    const routes: RouteOptions[] = [];
    app.addHook('onRoute', (route) => {
      routes.push(route);
    });
    app.decorate('routeAccess', () =>
      routes.flatMap((route) =>
        [route.method]
          .flat()
          .filter((m) => m !== 'HEAD')
          .map((method) => ({ method, url: route.url, access: route.config?.access })),
      ),
    );
    app.decorateRequest('principal', null);
  },
  { name: 'auth' },
);

/**
 * Staff routes: a credential (an API key in `x-api-key`, or a bearer JWT) is required, and its
 * role must be allowed for the group. 401 without a valid credential, 403 with the wrong role.
 */
export function staffOnly(app: FastifyInstance, access: Access, security: Security, machine?: (request: FastifyRequest) => boolean): void {
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, access };
  });
  declareProblems(app, 401, 403);
  const check: onRequestHookHandler = async (request, reply) => {
    // A machine's own credential (Prometheus's token): let through with no principal.
    if (machine?.(request)) return;
    const apiKey = request.headers['x-api-key'];
    const authorization = request.headers.authorization;
    const principal = await identify(security, {
      apiKey: typeof apiKey === 'string' ? apiKey : undefined,
      bearer: authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length).trim() : undefined,
    });
    if (!principal) {
      reply.header('www-authenticate', security.verifyJwt ? 'Bearer, ApiKey header="x-api-key"' : 'ApiKey header="x-api-key"');
      throw new Problem(401, 'Unauthorised', 'this route needs a staff credential: an API key in x-api-key, or a bearer token');
    }
    request.principal = authorise(principal, access);
  };
  app.addHook('onRequest', check);
}
