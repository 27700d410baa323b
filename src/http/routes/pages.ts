import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** Built by `npm run build` (scripts/build-web.mjs) from web/ and the nhsuk-frontend package. */
export const PUBLIC_DIR = path.resolve(import.meta.dirname, '../../../public');

/**
 * The patient page at /, the call-handler console at /console/, and the privacy and
 * accessibility statements (/privacy/, /accessibility/): static files over the API.
 */
const pages: FastifyPluginAsync = async (app) => {
  await app.register(fastifyStatic, { root: PUBLIC_DIR, redirect: true, decorateReply: false, schemaHide: true });
  // Browsers ask for /favicon.ico whatever the pages say; the icon is an SVG.
  app.get('/favicon.ico', { schema: { hide: true } }, (_request, reply) => reply.redirect('/favicon.svg', 301));
};

export default pages;
