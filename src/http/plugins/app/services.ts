import fp from 'fastify-plugin';
import type { AssessmentService } from '../../../assessments/service.js';
import type { CallbackService } from '../../../callbacks/service.js';
import type { ServiceMetrics } from '../../../metrics.js';
import type { ReportService } from '../../../reports/reports.js';
import type { ReleaseService } from '../../../releases/service.js';
import type { Services } from '../../../services.js';
import type { Store } from '../../../store/store.js';
import type { TraceRepository } from '../../../store/traces.js';
import type { VerificationService } from '../../../traces/verification.js';
import type { Triage } from '../../../triage/triage.js';

declare module 'fastify' {
  interface FastifyInstance {
    store: Store;
    triage: Triage;
    assessments: AssessmentService;
    traces: TraceRepository;
    verifications: VerificationService;
    callbacks: CallbackService;
    releases: ReleaseService;
    reports: ReportService;
    metrics: ServiceMetrics;
  }
}

/** The services (src/services.ts) as the routes reach them; closed with the instance. */
export default fp<{ services: Services }>(
  async (app, { services }) => {
    app.decorate('store', services.store);
    app.decorate('triage', services.triage);
    app.decorate('assessments', services.assessments);
    app.decorate('traces', services.traces);
    app.decorate('verifications', services.verifications);
    app.decorate('callbacks', services.callbacks);
    app.decorate('releases', services.releases);
    app.decorate('reports', services.reports);
    app.decorate('metrics', services.metrics);
    app.addHook('onClose', () => services.close());
  },
  { name: 'services' },
);
