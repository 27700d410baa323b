import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { z } from 'zod';
import { DateTimeString, PathwayRefSchema, problems, UuidString } from '../schemas.js';

const PathwaysSchema = z.array(PathwayRefSchema);
const ReleaseParams = z.object({ id: z.string().max(100) });

const ReleaseSchema = z
  .object({
    id: UuidString,
    createdAt: DateTimeString,
    author: z.string().describe('The principal who recorded it'),
    approver: z.string().nullable().describe('The clinician principal who signed it off as clinical safety officer (never the author)'),
    signedOffAt: DateTimeString.nullable(),
    approverClaimed: z.string().nullable().describe('A name typed as approver before sign-off was authenticated: history only, not a sign-off'),
    signedOff: z.boolean(),
    summary: z.string(),
    hazards: z.array(z.string()).describe('Hazard-log entries the change touches'),
    pathways: PathwaysSchema,
    active: z.boolean(),
    activations: z.array(z.object({ at: DateTimeString, by: z.string(), action: z.enum(['activate', 'deactivate']) })),
  })
  .meta({ id: 'Release' });

export const releaseList: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/admin/releases',
    {
      schema: {
        tags: ['releases'],
        operationId: 'listReleases',
        description: 'Every release recorded, with its checks left out: who recorded it, who signed it off, the pathways it holds and its activation history.',
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

export const releaseSignOff: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/admin/releases/:id/sign-off',
    {
      schema: {
        tags: ['releases'],
        operationId: 'signOffRelease',
        description: 'The approver is the authenticated clinician; signing off your own release is refused (403).',
        summary: 'Sign a release off as clinical safety officer: a clinician other than its author, recorded by their credential',
        params: ReleaseParams,
        response: {
          200: z.object({ id: z.string(), author: z.string(), approver: z.string(), signedOffAt: DateTimeString, pathways: PathwaysSchema }),
          ...problems(403, 404, 409),
        },
      },
    },
    async (request) => {
      const release = await app.releases.signOff(request.params.id, request.principal!);
      return { id: release.id, author: release.author, approver: release.approver!, signedOffAt: release.signedOffAt!, pathways: release.pathways };
    },
  );
};

export const releaseActivation: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/admin/releases/:id/activate',
    {
      schema: {
        tags: ['releases'],
        operationId: 'activateRelease',
        description: 'Every instance switches to it without a restart; refused (409) when it is not signed off where sign-off is required.',
        summary: 'Go live with a release on every instance (or roll back to an earlier one); refused if unsigned or invalid',
        params: ReleaseParams,
        response: {
          200: z.object({ active: z.string(), pathways: PathwaysSchema }),
          ...problems(404, 409, 422),
        },
      },
    },
    async (request) => {
      const release = await app.releases.activate(request.params.id, request.principal!.id);
      return { active: release.id, pathways: release.pathways };
    },
  );
  app.post(
    '/admin/releases/deactivate',
    {
      schema: {
        tags: ['releases'],
        operationId: 'deactivateRelease',
        description: 'The rule files on disk serve again on every instance.',
        summary: 'Serve the rule files again on every instance; refused where only signed-off releases may serve',
        response: { 200: z.object({ active: z.null(), deactivated: z.string() }), ...problems(409) },
      },
    },
    async (request) => ({ active: null, deactivated: await app.releases.deactivate(request.principal!.id) }),
  );
};
