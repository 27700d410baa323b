import fp from 'fastify-plugin';
import { limitJsonDepth, MAX_JSON_DEPTH, registerErrorHandling } from '../../errors.js';
import { Problem } from '../../problem.js';

/**
 * Every error in the one problem+json shape (src/http/errors.ts); JSON only, and not too deep;
 * requests arriving while the instance closes are a 503 with Retry-After, not Fastify's own.
 */
export default fp(
  async (app) => {
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
  },
  { name: 'error-handling' },
);
