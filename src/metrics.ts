import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from './store/store.js';
import type { Decider } from './triage/step.js';

/**
 * What operators scrape from GET /metrics (docs/operations.md), in one registry per service
 * instance. Every label takes a bounded set of values: route patterns (never a path with an
 * id in it), outcome kinds, fallback causes, urgency windows from the rule files.
 */
export interface ServiceMetrics {
  registry: Registry;
  /** A request answered: its route pattern ('unmatched' when no route matched), in seconds. */
  observeRequest(labels: { method: string; route: string; status: number }, seconds: number): void;
  /** The decider given, with each decision and fallback counted as it comes back. */
  decider: Decider;
}

export function serviceMetrics(store: Pick<Store, 'read' | 'observeCommits'>, decider: Decider, now: () => Date = () => new Date()): ServiceMetrics {
  const registry = new Registry();
  // Node's own: event-loop lag (nodejs_eventloop_lag_*), heap, handles, CPU.
  collectDefaultMetrics({ register: registry });
  const requests = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer a request, by route pattern, method and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const decisions = new Counter({ name: 'triage_decisions_total', help: 'Decisions made, by outcome kind (needs_answer: a question asked)', labelNames: ['kind'] as const, registers: [registry] });
  const fallbacks = new Counter({ name: 'triage_fallbacks_total', help: "Outcomes decided by the pathway's conservative fallback, by cause", labelNames: ['cause'] as const, registers: [registry] });
  const commitSeconds = new Histogram({
    name: 'store_commit_duration_seconds',
    help: 'Group commit latency: from the start of a batch to its being on disk',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const batchSize = new Histogram({ name: 'store_commit_batch_size', help: 'Writes (units and lone traces) per group commit', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [registry] });
  store.observeCommits((writes, seconds) => {
    commitSeconds.observe(seconds);
    batchSize.observe(writes);
  });
  new Gauge({
    name: 'callback_requests_waiting',
    help: 'Callback requests waiting to be claimed, by urgency window',
    labelNames: ['within'] as const,
    registers: [registry],
    async collect() {
      const rows = await store.read
        .selectFrom('callback_requests')
        .select(['within', (eb) => eb.fn.countAll().as('n')])
        .where('status', '=', 'waiting')
        .groupBy('within')
        .execute();
      this.reset();
      for (const row of rows) this.set({ within: row.within }, Number(row.n));
    },
  });
  new Gauge({
    name: 'callback_requests_overdue',
    help: 'Open callback requests (waiting or claimed) past their due time',
    registers: [registry],
    async collect() {
      const row = await store.read
        .selectFrom('callback_requests')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('status', 'in', ['waiting', 'claimed'])
        .where('due_at', '<', now().toISOString())
        .executeTakeFirstOrThrow();
      this.set(Number(row.n));
    },
  });
  new Gauge({
    name: 'decision_worker_queue_depth',
    help: 'Steps waiting for a decision worker',
    registers: [registry],
    collect() {
      this.set(decider.queueDepth());
    },
  });

  return {
    registry,
    observeRequest: ({ method, route, status }, seconds) => requests.observe({ method, route, status_code: String(status) }, seconds),
    decider: {
      queueDepth: () => decider.queueDepth(),
      close: () => decider.close(),
      async step(version, input) {
        const decided = await decider.step(version, input);
        const { decision, failSafe } = decided;
        decisions.inc({ kind: decision.status === 'complete' ? decision.outcome.kind : 'needs_answer' });
        if (decision.status === 'complete' && decision.outcome.ruleId === null) fallbacks.inc({ cause: failSafe?.cause ?? 'no_rule_decided' });
        return decided;
      },
    },
  };
}
