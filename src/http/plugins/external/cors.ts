import fastifyCors from '@fastify/cors';
import fp from 'fastify-plugin';

/**
 * Frontend origins allowed to call the API from a browser (CORS_ORIGINS); none by default. A
 * preflight holds for 10 minutes, and scripts may read the headers the API's conventions rest on.
 */
export const CORS_MAX_AGE_SECONDS = 600;
export const CORS_EXPOSED_HEADERS = ['ETag', 'Location', 'Retry-After'];

export default fp<{ origins: string }>(
  async (app, { origins }) => {
    await app.register(fastifyCors, { origin: origins ? origins.split(',').map((o) => o.trim()) : false, maxAge: CORS_MAX_AGE_SECONDS, exposedHeaders: CORS_EXPOSED_HEADERS });
  },
  { name: 'cors' },
);
