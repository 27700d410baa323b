import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import t from 'tap';
import { ESCALATE, requested, setup, URGENT, assessment } from '../callbacks/walks.js';
import { STAFF, testApp } from '../helpers.js';

/**
 * GET /metrics parses as Prometheus text and moves as the test drives the service: requests by
 * route pattern, decisions, fallbacks, the callback queue, group commits; who may scrape it.
 */
const TOKEN = 'metrics-token-for-the-test-0000000000';
const { app, clock } = await setup(t);

async function scrape(headers: Record<string, string> = STAFF.admin): Promise<Map<string, MetricFamily>> {
  const res = await app.inject({ method: 'GET', url: '/metrics', headers });
  if (res.statusCode !== 200) throw new Error(`GET /metrics: ${res.statusCode}`);
  return new Map(parsePrometheusTextFormat(res.body).map((family) => [family.name, family]));
}

/** The value of a counter or gauge with these labels (0 when absent). */
function value(metrics: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  const sample = metrics.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return Number(sample?.value ?? 0);
}

/**
 * How many observations a histogram has with these labels, summed over its series. Read from
 * prom-client's registry: the text parser folds a histogram's labelled series into one.
 */
async function observations(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = app.metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  // A histogram's values name their series (_bucket, _sum, _count).
  const values = (await metric.get()).values as { metricName?: string; value: number; labels: Record<string, string | number | undefined> }[];
  return values.filter((v) => v.metricName === `${name}_count` && Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l)).reduce((n, v) => n + v.value, 0);
}

// A muscle-like pain from today in someone over 40: no rule decides, the fallback does.
const FALLBACK = { ...URGENT, pain_now: true, pain_feel: 'aching_tender', worse_on_pressing: true };

t.test('the metrics move as the service works', async (t) => {
  const before = await scrape();
  const commitsBefore = await observations('store_commit_batch_size');
  for (const name of [
    'http_request_duration_seconds',
    'triage_decisions_total',
    'triage_fallbacks_total',
    'callback_requests_waiting',
    'callback_requests_overdue',
    'store_commit_duration_seconds',
    'store_commit_batch_size',
    'nodejs_eventloop_lag_seconds',
    'decision_worker_queue_depth',
  ]) {
    t.ok(before.has(name) || ['http_request_duration_seconds', 'triage_decisions_total', 'triage_fallbacks_total'].includes(name), `${name} is exported`);
  }
  t.equal(before.get('decision_worker_queue_depth')?.type, 'GAUGE');

  await assessment(app, ESCALATE);
  await assessment(app, FALLBACK, { ageYears: 45, sex: 'male' });
  await requested(app, URGENT);
  const unknown = '00000000-0000-4000-8000-000000000000';
  await app.inject({ method: 'GET', url: `/v1/pathways/chest-pain` });
  await app.inject({ method: 'GET', url: `/v1/traces/${unknown}`, headers: STAFF.auditor });
  await app.inject({ method: 'GET', url: '/no-such-page' });
  clock.advance(2 * 3600);

  const after = await scrape();
  t.equal(value(after, 'triage_decisions_total', { kind: 'escalate' }) - value(before, 'triage_decisions_total', { kind: 'escalate' }), 1, 'one escalation');
  t.equal(value(after, 'triage_decisions_total', { kind: 'callback' }) - value(before, 'triage_decisions_total', { kind: 'callback' }), 2, 'two callbacks: the fallback and the urgent walk');
  t.ok(value(after, 'triage_decisions_total', { kind: 'needs_answer' }) > value(before, 'triage_decisions_total', { kind: 'needs_answer' }), 'questions asked');
  t.equal(value(after, 'triage_fallbacks_total', { cause: 'no_rule_decided' }) - value(before, 'triage_fallbacks_total', { cause: 'no_rule_decided' }), 1, 'one fallback');
  t.equal(value(after, 'callback_requests_waiting', { within: 'PT1H' }), 1, 'the request waits in its 1-hour window');
  t.equal(value(after, 'callback_requests_overdue'), 1, 'and is overdue two hours on');
  t.ok(after.has('store_commit_batch_size') && after.has('store_commit_duration_seconds'), 'group commits exported');
  t.ok((await observations('store_commit_batch_size')) > commitsBefore, 'group commits observed');
  t.equal(await observations('store_commit_duration_seconds'), await observations('store_commit_batch_size'), 'one latency per batch');
  t.ok(Number(after.get('nodejs_eventloop_lag_seconds')?.metrics[0]?.value) >= 0, 'event-loop lag');

  t.equal(await observations('http_request_duration_seconds', { route: '/v1/pathways/:id', method: 'GET', status_code: '200' }), 1, 'by route pattern');
  t.equal(await observations('http_request_duration_seconds', { route: '/v1/traces/:id', status_code: '404' }), 1);
  t.equal(await observations('http_request_duration_seconds', { route: 'unmatched', status_code: '404' }), 1, 'no route: one label for all');
  const routes = new Set((await app.metrics.registry.getSingleMetric('http_request_duration_seconds')!.get()).values.map((v) => String(v.labels.route)));
  const patterns = new Set([...app.routeAccess().map((r) => r.url), 'unmatched']);
  t.same(
    [...routes].filter((r) => !patterns.has(r)),
    [],
    'every route label is a route pattern, never a path with an id',
  );
  t.notOk([...routes].some((r) => r.includes(unknown) || r.includes('chest-pain')));
});

t.test('admins and the METRICS_TOKEN bearer may scrape; nobody else', async (t) => {
  const withToken = await testApp(t, { env: { METRICS_TOKEN: TOKEN } });
  const status = async (headers: Record<string, string>) => (await withToken.inject({ method: 'GET', url: '/metrics', headers })).statusCode;
  t.equal(await status({ authorization: `Bearer ${TOKEN}` }), 200, 'the token');
  t.equal(await status(STAFF.admin), 200, 'an admin');
  t.equal(await status({ authorization: `Bearer ${TOKEN}x` }), 401, 'another token');
  t.equal(await status({}), 401, 'nothing');
  for (const role of ['call-handler', 'clinician', 'auditor'] as const) t.equal(await status(STAFF[role]), 403, role);
  t.equal((await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 401, 'no token configured: a bearer token is not enough');
  const res = await withToken.inject({ method: 'GET', url: '/metrics', headers: STAFF.admin });
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  t.notMatch(res.body, /Ada|07700|ageYears/, 'no patient data');
});
