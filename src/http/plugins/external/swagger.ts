import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from '@fastify/type-provider-zod';
import fp from 'fastify-plugin';
import { SOFTWARE } from '../../../software.js';

/** The OpenAPI document from the routes' zod schemas (openapi/openapi.json), and Swagger UI at /docs. */
export default fp(
  async (app) => {
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
  },
  { name: 'swagger' },
);
