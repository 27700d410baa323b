import fastifyCors from '@fastify/cors';
import fp from 'fastify-plugin';

/** Frontend origins allowed to call the API from a browser (CORS_ORIGINS); none by default. */
export default fp<{ origins: string }>(
  async (app, { origins }) => {
    await app.register(fastifyCors, { origin: origins ? origins.split(',').map((o) => o.trim()) : false });
  },
  { name: 'cors' },
);
