import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import type { Config } from '../../../config.js';
import type { Access } from '../../../security/roles.js';
import type { Security } from '../../../security/setup.js';
import { staffOnly } from '../../plugins/app/auth.js';
import { declareProblems } from '../../problem.js';
import { publicRateLimit, staffRateLimit } from '../../plugins/external/rate-limit.js';
import assessmentRoutes from '../assessments.js';
import callbackRoutes from '../callbacks.js';
import pathwayRoutes from '../pathways.js';
import { releaseActivation, releaseList, releaseSignOff } from '../releases.js';
import reportRoutes from '../reports.js';
import searchRoutes from '../search.js';
import traceRoutes from '../traces.js';
import triageRoutes from '../triage.js';

/** Staff routes by access group: each group in a scope of its own, behind its credential check. */
const STAFF_SCOPES: [Access, FastifyPluginAsyncZod][] = [
  ['traces', traceRoutes],
  ['callbacks', callbackRoutes],
  ['releases', releaseList],
  ['releaseSignOff', releaseSignOff],
  ['releaseActivation', releaseActivation],
  ['reports', reportRoutes],
];

/** The API under /v1: the patients' routes, and the staff's per role (docs/security.md). */
const v1: FastifyPluginAsyncZod<{ config: Config; security: Security }> = async (app, { config, security }) => {
  // Every /v1 route reads or writes the store: a failing disk is a 507 on any of them.
  declareProblems(app, 507);
  // Assessments, answers, names, phone numbers, traces: nothing here may sit in a cache, shared or
  // the browser's own, unless its route says otherwise (pathway reads set their own).
  app.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
  // Patient-facing routes: no staff credential, rate limited per client.
  await app.register(async (publicRoutes) => {
    await publicRoutes.register(publicRateLimit, { perMinute: config.RATE_LIMIT_PER_MINUTE });
    await publicRoutes.register(pathwayRoutes);
    await publicRoutes.register(searchRoutes);
    await publicRoutes.register(assessmentRoutes);
    await publicRoutes.register(triageRoutes);
  });
  await app.register(async (staffRoutes) => {
    await staffRoutes.register(staffRateLimit, { perMinute: config.STAFF_RATE_LIMIT_PER_MINUTE });
    for (const [access, routes] of STAFF_SCOPES) {
      await staffRoutes.register(async (staff) => {
        staffOnly(staff, access, security);
        await staff.register(routes);
      });
    }
  });
};

export default v1;
