import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type { PathwayVersion } from '../src/rulesets/version.js';
import { openStore } from '../src/store/store.js';
import { Triage } from '../src/triage/triage.js';
import { fullest, seedCallbacks, type Case, type Cases } from './cases.js';
import { openLoop, type HttpRequest, type OpenLoopResult } from './open-loop.js';
import { HANDLER_KEY, startServer, type BenchServer } from './server.js';
import { median, medianWithRange, percentile, type Table } from './stats.js';

export const CONNECTIONS = 50;
/** A fresh object each time: autocannon writes its content-length into the headers it is given. */
const jsonHeaders = (): Record<string, string> => ({ 'content-type': 'application/json' });

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  /** The same requests' p50 and p99 inside the server, from its own log. */
  serverP50: number;
  serverP99: number;
  /**
   * The longest the load generator's own event loop was held up (ms): requests it sent late
   * and answers it read late count against the server's latency, though the server never
   * saw that time.
   */
  generatorStall: number;
  errors: number;
  /** Median over rounds of this route's requests/s over the baseline's in the same round. */
  ratio: number;
}

/** The medians, with each round's ratio and p99 behind them. */
interface Summary extends Figures {
  ratios: number[];
  p99s: number[];
}

interface Route {
  what: string;
  /** Where the requests go, and whether as fast as answers come back or at a set rate. */
  load: { closed: Partial<autocannon.Options>; at?: string } | { open: { ratio: number } | { rate: number }; next: () => HttpRequest };
  target?: { ratio?: number; p99?: number };
}

/**
 * Runs every route once per round, rounds one after another, so each ratio compares runs made
 * minutes apart at most, not a baseline measured before everything else on a noisy machine. A
 * first, unrecorded round warms the server up (compiled code, engines, caches).
 */
async function rounds(server: BenchServer, runs: number, seconds: number, routes: Route[]): Promise<Summary[]> {
  const results = routes.map(() => [] as Figures[]);
  for (let run = -1; run < runs; run++) {
    const warmUp = run < 0;
    let baseline = 0;
    for (const [i, route] of routes.entries()) {
      // The requests a closed-loop run leaves behind are still being answered when it ends:
      // each run starts on a server that has caught up.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const duration = warmUp ? Math.max(1, seconds / 5) : seconds;
      const mark = server.logMark();
      const stalls = monitorEventLoopDelay({ resolution: 1 });
      stalls.enable();
      let r: OpenLoopResult;
      if ('closed' in route.load) {
        const c = await autocannon({ connections: CONNECTIONS, ...route.load.closed, url: `${server.base}${route.load.at ?? ''}`, duration });
        r = { rps: c.requests.average, p50: c.latency.p50, p99: c.latency.p99, errors: c.non2xx + c.errors };
      } else {
        const { open, next } = route.load;
        const rate = 'ratio' in open ? baseline * open.ratio : open.rate;
        r = await openLoop(server.base, { rate: Math.max(1, rate), seconds: duration, connections: CONNECTIONS, next });
      }
      stalls.disable();
      if (i === 0) baseline = r.rps;
      const inServer = server.responseTimes(mark);
      const inServerAt = (p: number) => (inServer.length > 0 ? percentile(inServer, p) : Number.NaN);
      if (!warmUp) results[i]!.push({ ...r, serverP50: inServerAt(0.5), serverP99: inServerAt(0.99), generatorStall: stalls.max / 1e6, ratio: r.rps / baseline });
    }
  }
  return results.map((rs) => ({
    rps: median(rs.map((r) => r.rps)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    serverP50: median(rs.map((r) => r.serverP50)),
    serverP99: median(rs.map((r) => r.serverP99)),
    generatorStall: median(rs.map((r) => r.generatorStall)),
    errors: Math.max(...rs.map((r) => r.errors)),
    ratio: median(rs.map((r) => r.ratio)),
    ratios: rs.map((r) => r.ratio),
    p99s: rs.map((r) => r.p99),
  }));
}

/** The same requests, sent by autocannon as fast as answers come back. */
export const closedLoop = (next: () => HttpRequest): Partial<autocannon.Options> => ({ requests: [{ setupRequest: (req) => ({ ...req, ...next() }) }] });

async function postJson(url: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: jsonHeaders(), body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(`POST ${url}: ${res.status} ${text}`);
  }
  return JSON.parse(text);
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
export function stepRequests(assessments: { id: string; token: string }[], answer: { questionId: string; value: unknown }): () => HttpRequest {
  let next = 0;
  const body = JSON.stringify(answer);
  return () => {
    const a = assessments[next++ % assessments.length]!;
    return { method: 'POST', path: `/v1/assessments/${a.id}/answers`, headers: { ...jsonHeaders(), 'x-assessment-token': a.token }, body };
  };
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

      const queue = (): HttpRequest => ({ method: 'GET', path: '/v1/callbacks', headers: { 'x-api-key': HANDLER_KEY } });
      const waiting = `${queueSize.toLocaleString('en-GB')} waiting`;
      const triageStep = (): HttpRequest => ({ method: 'POST', path: '/v1/triage', headers: jsonHeaders(), body: steps[nextStep++ % steps.length]! });
      const answerStep = stepRequests(assessments, full.answers[0]!);
      // 50 connections that each send as soon as an answer comes back measure throughput, but
      // their latency is mostly waiting in line (Little's law: 50 / throughput, whatever the
      // route). Latency targets are read at a set load instead: the rate the throughput target
      // names, arriving at random over 50 connections.
      const routes: Route[] = [
        { what: 'POST /bench/echo (baseline)', load: { at: '/bench/echo', closed: { method: 'POST', headers: jsonHeaders(), body: JSON.stringify({ pathwayId: largest.id, patient: full.patient }) } } },
        { what: `POST /v1/triage (${largest.id}, every scenario step)`, load: { closed: closedLoop(triageStep) }, target: { ratio: TRIAGE_RATIO_TARGET } },
        {
          what: `POST /v1/triage (${largest.id}, every scenario step) at ${TRIAGE_RATIO_TARGET} of the baseline rate`,
          load: { open: { ratio: TRIAGE_RATIO_TARGET }, next: triageStep },
          target: { p99: P99_TARGET_MS },
        },
        {
          what: `POST /v1/triage (${largest.id}, fullest answer set)`,
          load: { at: '/v1/triage', closed: { method: 'POST', headers: jsonHeaders(), body: bodyOf(full) } },
          target: { ratio: TRIAGE_RATIO_TARGET },
        },
        { what: 'POST /v1/assessments/:id/answers', load: { closed: closedLoop(answerStep) }, target: { ratio: STEP_RATIO_TARGET } },
        { what: `POST /v1/assessments/:id/answers at ${STEP_RATIO_TARGET} of the baseline rate`, load: { open: { ratio: STEP_RATIO_TARGET }, next: answerStep }, target: { p99: P99_TARGET_MS } },
        { what: `GET /v1/callbacks (${waiting})`, load: { closed: closedLoop(queue) } },
        // 50 call handlers' consoles, each reading the queue ten times a second.
        { what: `GET /v1/callbacks (${waiting}) at ${QUEUE_READS_PER_SECOND}/s`, load: { open: { rate: QUEUE_READS_PER_SECOND }, next: queue }, target: { p99: QUEUE_P99_TARGET_MS } },
        { what: `GET /v1/callbacks (${waiting}), 1 connection`, load: { closed: { ...closedLoop(queue), connections: 1 } }, target: { p99: QUEUE_P99_TARGET_MS } },
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
          p99: `${medianWithRange(r.p99s, String)} ms`,
          inServer: Number.isNaN(r.serverP99) ? 'n/a' : `${r.serverP50.toFixed(1)} / ${r.serverP99.toFixed(1)} ms`,
          generatorStall: `${r.generatorStall.toFixed(0)} ms`,
          ratio: medianWithRange(r.ratios, (x) => x.toFixed(2)),
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
