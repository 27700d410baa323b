import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { z } from 'zod';
import { problems } from '../schemas.js';

const ReleaseSchema = z
  .object({
    id: z.string(),
    createdAt: z.string(),
    author: z.string(),
    approver: z.string().nullable().describe('The clinical safety officer who signed it off'),
    signedOff: z.boolean(),
    summary: z.string(),
    hazards: z.array(z.string()).describe('Hazard-log entries the change touches'),
    pathways: z.array(z.object({ id: z.string(), version: z.string(), hash: z.string() })),
    active: z.boolean(),
    activations: z.array(z.object({ at: z.string(), by: z.string() })),
  })
  .meta({ id: 'Release' });

export const releaseList: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/admin/releases',
    {
      schema: {
        tags: ['releases'],
        summary: 'Releases, newest first, with sign-off, status and activation history',
        response: { 200: z.object({ active: z.string().nullable(), releases: z.array(ReleaseSchema) }), ...problems(401, 403) },
      },
    },
    async () => {
      const releases = await app.releases.list();
      return { active: releases.find((r) => r.active)?.id ?? null, releases: releases.map(({ checks: _checks, ...r }) => r) };
    },
  );
};

export const releaseActivation: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/admin/releases/:id/activate',
    {
      schema: {
        tags: ['releases'],
        summary: 'Go live with a release on every instance (or roll back to an earlier one); refused if unsigned or invalid',
        params: z.object({ id: z.string().max(100) }),
        response: {
          200: z.object({ active: z.string(), pathways: z.array(z.object({ id: z.string(), version: z.string(), hash: z.string() })) }),
          ...problems(401, 403, 404, 409, 422),
        },
      },
    },
    async (request) => {
      const release = await app.releases.activate(request.params.id, request.principal!.id);
      return { active: release.id, pathways: release.pathways };
    },
  );
};
