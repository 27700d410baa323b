import Fastify from 'fastify';

/**
 * A bare Fastify echo: no logging, no plugins, no schema, its own process. Issue 30's HTTP
 * targets are ratios to this, for the same body; the service's own echo route (validation,
 * logging, every plugin) stays the bench's other baseline.
 */
const app = Fastify({ logger: false });
app.post('/echo', async (request) => request.body);
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
