import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** Built by `npm run build` (scripts/build-web.mjs) from web/ and the nhsuk-frontend package. */
export const PUBLIC_DIR = path.resolve(import.meta.dirname, '../../../public');

/** The patient page at / and the call-handler console at /console/: static files over the API. */
const pages: FastifyPluginAsync = async (app) => {
  await app.register(fastifyStatic, { root: PUBLIC_DIR, redirect: true, decorateReply: false, schemaHide: true });
};

export default pages;
