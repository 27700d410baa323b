import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { Problem } from '../problem.js';
import { ACCESS, type Access, type Principal } from '../security/roles.js';
import type { Security } from '../security/setup.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Which staff access group a route belongs to; absent on public routes. */
    access?: Access;
  }
}

async function identify(request: FastifyRequest, security: Security): Promise<Principal | undefined> {
  const apiKey = request.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey) {
    return security.apiKeys.verify(apiKey);
  }
  const authorization = request.headers.authorization;
  if (authorization?.startsWith('Bearer ') && security.verifyJwt) {
    return security.verifyJwt(authorization.slice('Bearer '.length).trim());
  }
  return undefined;
}

/**
 * Staff routes: a credential (an API key in `x-api-key`, or a bearer JWT) is required, and its
 * role must be allowed for the group. 401 without a valid credential, 403 with the wrong role.
 */
export function staffOnly(app: FastifyInstance, access: Access, security: Security): void {
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, access };
  });
  const check: onRequestHookHandler = async (request, reply) => {
    const principal = await identify(request, security);
    if (!principal) {
      reply.header('www-authenticate', security.verifyJwt ? 'Bearer, ApiKey header="x-api-key"' : 'ApiKey header="x-api-key"');
      throw new Problem(401, 'Unauthorised', 'this route needs a staff credential: an API key in x-api-key, or a bearer token');
    }
    const allowed: readonly string[] = ACCESS[access];
    if (!principal.roles.some((role) => allowed.includes(role))) {
      throw new Problem(403, 'Forbidden', `the ${principal.roles.join(', ')} role may not use this route (needs ${allowed.join(' or ')})`);
    }
    request.principal = principal;
  };
  app.addHook('onRequest', check);
}
