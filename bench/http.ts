import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import type { PathwayVersion } from '../src/rulesets/version.js';
import { openStore } from '../src/store/database.js';
import { Triage } from '../src/triage/triage.js';
import { fullest, seedCallbacks, type Case, type Cases } from './cases.js';
import { HANDLER_KEY, startServer, type BenchServer } from './server.js';
import { median, type Table } from './stats.js';

export const CONNECTIONS = 50;
const JSON_HEADERS = { 'content-type': 'application/json' };

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Median over rounds of this route's requests/s over the baseline's in the same round. */
  ratio: number;
}

interface Route {
  what: string;
  at: string;
  /** A function of the baseline's requests/s in the same round, for routes run at a set rate. */
  options: Partial<autocannon.Options> | ((baselineRps: number) => Partial<autocannon.Options>);
  target?: { ratio?: number; p99?: number };
}

/**
 * Runs every route once per round, rounds one after another, so each ratio compares runs made
 * minutes apart at most, not a baseline measured before everything else on a noisy machine.
 */
async function rounds(server: BenchServer, runs: number, seconds: number, routes: Route[]): Promise<Figures[]> {
  const results = routes.map(() => [] as { rps: number; p50: number; p99: number; errors: number; ratio: number }[]);
  for (let run = 0; run < runs; run++) {
    let baseline = 0;
    for (const [i, route] of routes.entries()) {
      const options = typeof route.options === 'function' ? route.options(baseline) : route.options;
      const r = await autocannon({ connections: CONNECTIONS, ...options, url: `${server.base}${route.at}`, duration: seconds });
      if (i === 0) baseline = r.requests.average;
      results[i]!.push({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.non2xx + r.errors, ratio: r.requests.average / baseline });
    }
  }
  return results.map((rs) => ({
    rps: median(rs.map((r) => r.rps)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    errors: Math.max(...rs.map((r) => r.errors)),
    ratio: median(rs.map((r) => r.ratio)),
  }));
}

const agent = new Agent({ keepAlive: true, maxSockets: 50 });

/** node:http rather than fetch: undici's fetch mis-sends bodies after autocannon has run. */
function postJson(url: string, body: unknown): Promise<unknown> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { ...JSON_HEADERS, 'content-length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => (res.statusCode === 201 || res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`POST ${url}: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Assessments a load test can step through: each gets its own token. */
export async function openAssessments(server: BenchServer, pathwayId: string, patient: unknown, count: number): Promise<{ id: string; token: string }[]> {
  const out: { id: string; token: string }[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, async () => {
        const body = (await postJson(`${server.base}/v1/assessments`, { pathwayId, patient })) as { id: string; token: string };
        return { id: body.id, token: body.token };
      }),
    );
    out.push(...batch);
  }
  return out;
}

/**
 * One interactive step per request: re-answering the first question of an assessment (decide,
 * then store the new state and its trace), spread over many assessments so they do not collide.
 */
export function stepRequests(assessments: { id: string; token: string }[], answer: { questionId: string; value: unknown }): autocannon.Request[] {
  let next = 0;
  return [
    {
      method: 'POST',
      setupRequest: (req) => {
        const a = assessments[next++ % assessments.length]!;
        return { ...req, path: `/v1/assessments/${a.id}/answers`, headers: { ...JSON_HEADERS, 'x-assessment-token': a.token }, body: JSON.stringify(answer) };
      },
    },
  ];
}

export const TRIAGE_RATIO_TARGET = 0.3;
export const STEP_RATIO_TARGET = 0.25;
export const P99_TARGET_MS = 25;
export const QUEUE_P99_TARGET_MS = 10;
export const QUEUE_READS_PER_SECOND = 500;

/** The four routes against the real server, each as a ratio to the echo baseline in the same run. */
export async function httpBench(table: Table, versions: PathwayVersion[], cases: Cases, runs: number, seconds: number, largest: PathwayVersion, queueSize: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'triage-bench-'));
  const database = path.join(dir, 'bench.db');
  try {
    // The queue is filled before the server starts, through the same services the API uses.
    const seedStore = await openStore(`sqlite:${database}`);
    await seedCallbacks(seedStore, new Triage(versions, { timeoutMs: 10_000 }), cases, queueSize);
    await seedStore.close();

    const server = await startServer(dir, database);
    try {
      const full = fullest(cases, largest.id);
      const bodyOf = (c: Case) => JSON.stringify({ pathwayId: largest.id, patient: c.patient, answers: Object.fromEntries(c.answers.map((a) => [a.questionId, a.value])) });
      // A frontend that keeps the answers calls triage after each one: every step of every
      // scenario in turn. The fullest answer set (every rule in play) is measured on its own.
      const steps = cases.byPathway.get(largest.id)!.map(bodyOf);
      let nextStep = 0;
      const assessments = await openAssessments(server, largest.id, full.patient, 2000);

      const queueRequest = { method: 'GET', headers: { 'x-api-key': HANDLER_KEY } } as const;
      const waiting = `${queueSize.toLocaleString('en-GB')} waiting`;
      const triageSteps: Partial<autocannon.Options> = {
        requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, path: '/v1/triage', headers: JSON_HEADERS, body: steps[nextStep++ % steps.length]! }) }],
      };
      const answerSteps: Partial<autocannon.Options> = { requests: stepRequests(assessments, full.answers[0]!) };
      // 50 connections that each send as fast as answers come back measure throughput, and their
      // latency is mostly waiting in line (Little's law: 50 / throughput, whatever the route).
      // Latency targets are read at a set rate instead: the rate the throughput target names,
      // sent by 50 connections (autocannon corrects for coordinated omission).
      const atRate = (ratio: number) => (baseline: number) => ({ overallRate: Math.max(1, Math.round(baseline * ratio)) });
      const routes: Route[] = [
        { what: 'POST /bench/echo (baseline)', at: '/bench/echo', options: { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ pathwayId: largest.id, patient: full.patient }) } },
        { what: `POST /v1/triage (${largest.id}, every scenario step)`, at: '', options: triageSteps, target: { ratio: TRIAGE_RATIO_TARGET } },
        {
          what: `POST /v1/triage (${largest.id}, every scenario step) at ${TRIAGE_RATIO_TARGET} of the baseline rate`,
          at: '',
          options: (baseline) => ({ ...triageSteps, ...atRate(TRIAGE_RATIO_TARGET)(baseline) }),
          target: { p99: P99_TARGET_MS },
        },
        { what: `POST /v1/triage (${largest.id}, fullest answer set)`, at: '/v1/triage', options: { method: 'POST', headers: JSON_HEADERS, body: bodyOf(full) }, target: { ratio: TRIAGE_RATIO_TARGET } },
        { what: 'POST /v1/assessments/:id/answers', at: '', options: answerSteps, target: { ratio: STEP_RATIO_TARGET } },
        {
          what: `POST /v1/assessments/:id/answers at ${STEP_RATIO_TARGET} of the baseline rate`,
          at: '',
          options: (baseline) => ({ ...answerSteps, ...atRate(STEP_RATIO_TARGET)(baseline) }),
          target: { p99: P99_TARGET_MS },
        },
        { what: `GET /v1/callbacks (${waiting})`, at: '/v1/callbacks', options: queueRequest },
        // 50 call handlers' consoles, each reading the queue ten times a second.
        { what: `GET /v1/callbacks (${waiting}) at ${QUEUE_READS_PER_SECOND}/s`, at: '/v1/callbacks', options: { ...queueRequest, overallRate: QUEUE_READS_PER_SECOND }, target: { p99: QUEUE_P99_TARGET_MS } },
        { what: `GET /v1/callbacks (${waiting}), 1 connection`, at: '/v1/callbacks', options: { ...queueRequest, connections: 1 }, target: { p99: QUEUE_P99_TARGET_MS } },
      ];
      const figures = await rounds(server, runs, seconds, routes);
      routes.forEach(({ what, target }, i) => {
        const r = figures[i]!;
        const met = (target?.ratio === undefined || r.ratio >= target.ratio) && (target?.p99 === undefined || r.p99 < target.p99);
        const text = target ? [target.ratio !== undefined ? `ratio >= ${target.ratio.toFixed(2)}` : '', target.p99 !== undefined ? `p99 < ${target.p99} ms` : ''].filter(Boolean).join(', ') : '';
        table.add({
          kind: 'http',
          what: `${what}${r.errors ? ` (${r.errors} non-2xx)` : ''}`,
          throughput: `${r.rps.toFixed(0)}/s`,
          median: `${r.p50} ms`,
          p99: `${r.p99} ms`,
          ratio: r.ratio.toFixed(2),
          target: target ? { text, met: met && r.errors === 0 } : undefined,
        });
      });
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
