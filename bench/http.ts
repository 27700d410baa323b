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
import { HANDLER_KEY, startBareEcho, startServer, threadCpu, type BareEcho, type BenchServer } from './server.js';
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
  /** The same over the bare Fastify echo's in the same round. */
  bareRatio: number;
  /** Server CPU a request (µs, /proc): every thread, the event loop, the busiest other thread (a decision worker when there are decisions). */
  cpu: { all: number; loop: number; busiest: number };
}

/** The medians, with each round's ratio and p99 behind them. */
interface Summary extends Figures {
  ratios: number[];
  bareRatios: number[];
  p99s: number[];
}

interface Route {
  what: string;
  /** The bare Fastify echo, in a process of its own, rather than the service. */
  bare?: true;
  /**
   * Where the requests go, and whether as fast as answers come back or at a set rate: a share of
   * the baseline's rate, of another route's rate (`of`, its index) in the same round, or fixed.
   */
  load: { closed: Partial<autocannon.Options>; at?: string } | { open: { ratio: number; of?: number } | { rate: number }; next: () => HttpRequest };
  /** bareRatio: against the bare echo; cpu: µs a request; serverP99: ms inside the server. */
  target?: { bareRatio?: number; p99?: number; serverP99?: number; cpu?: number };
}

/** CPU seconds by thread, read before and after a run. */
function cpuPerRequest(before: ReturnType<typeof threadCpu>, after: ReturnType<typeof threadCpu>, pid: number, requests: number): Figures['cpu'] {
  const was = new Map(before.map((t) => [t.tid, t.seconds]));
  const used = after.map((t) => ({ tid: t.tid, seconds: t.seconds - (was.get(t.tid) ?? 0) }));
  const us = (seconds: number) => (requests > 0 ? (seconds * 1e6) / requests : Number.NaN);
  const loop = used.find((t) => t.tid === pid)?.seconds ?? 0;
  const others = used.filter((t) => t.tid !== pid).map((t) => t.seconds);
  return { all: us(loop + others.reduce((a, b) => a + b, 0)), loop: us(loop), busiest: us(Math.max(0, ...others)) };
}

/**
 * Runs every route once per round, rounds one after another, so each ratio compares runs made
 * minutes apart at most, not a baseline measured before everything else on a noisy machine. A
 * first, unrecorded round warms the server up (compiled code, engines, caches).
 */
async function rounds(server: BenchServer, bare: BareEcho, runs: number, seconds: number, routes: Route[]): Promise<Summary[]> {
  const results = routes.map(() => [] as Figures[]);
  for (let run = -1; run < runs; run++) {
    const warmUp = run < 0;
    let baseline = 0;
    let bareRate = 0;
    const rates: number[] = [];
    for (const [i, route] of routes.entries()) {
      const base = route.bare ? bare.base : server.base;
      const pid = route.bare ? bare.pid : server.pid;
      // The requests a closed-loop run leaves behind are still being answered when it ends:
      // each run starts on a server that has caught up.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const duration = warmUp ? Math.max(1, seconds / 5) : seconds;
      const mark = server.logMark();
      const stalls = monitorEventLoopDelay({ resolution: 1 });
      stalls.enable();
      const cpuBefore = threadCpu(pid);
      const started = performance.now();
      let r: OpenLoopResult;
      let requests: number;
      if ('closed' in route.load) {
        const c = await autocannon({ connections: CONNECTIONS, ...route.load.closed, url: `${base}${route.load.at ?? ''}`, duration });
        r = { rps: c.requests.average, p50: c.latency.p50, p99: c.latency.p99, errors: c.non2xx + c.errors };
        requests = c.requests.total;
      } else {
        const { open, next } = route.load;
        const rate = 'ratio' in open ? (open.of === undefined ? baseline : rates[open.of]!) * open.ratio : open.rate;
        r = await openLoop(base, { rate: Math.max(1, rate), seconds: duration, connections: CONNECTIONS, next });
        requests = Math.round((r.rps * (performance.now() - started)) / 1000);
      }
      // Requests still in the server when the run ended were paid for by it: wait for them (the next run waits anyway).
      await new Promise((resolve) => setTimeout(resolve, 200));
      const cpu = cpuPerRequest(cpuBefore, threadCpu(pid), pid, requests);
      stalls.disable();
      rates[i] = r.rps;
      if (route.bare) bareRate = r.rps;
      else if (baseline === 0) baseline = r.rps;
      const inServer = route.bare ? [] : server.responseTimes(mark);
      const inServerAt = (p: number) => (inServer.length > 0 ? percentile(inServer, p) : Number.NaN);
      if (!warmUp) results[i]!.push({ ...r, serverP50: inServerAt(0.5), serverP99: inServerAt(0.99), generatorStall: stalls.max / 1e6, ratio: r.rps / baseline, bareRatio: r.rps / bareRate, cpu });
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
    bareRatio: median(rs.map((r) => r.bareRatio)),
    cpu: { all: median(rs.map((r) => r.cpu.all)), loop: median(rs.map((r) => r.cpu.loop)), busiest: median(rs.map((r) => r.cpu.busiest)) },
    ratios: rs.map((r) => r.ratio),
    bareRatios: rs.map((r) => r.bareRatio),
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

/** Issue 30: the fullest answer set and an interactive step, against a bare Fastify echo of the same body. */
export const TRIAGE_BARE_RATIO_TARGET = 0.2;
export const STEP_BARE_RATIO_TARGET = 0.25;
export const CPU_TARGET_US = 350;
/** p99 inside the server at half the route's own measured maximum rate, open loop. */
export const P99_TARGET_MS = 25;
export const HALF = 0.5;
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
      const echoBody = JSON.stringify({ pathwayId: largest.id, patient: full.patient });
      const routes: Route[] = [
        { what: 'POST /echo, bare Fastify (no logging, no plugins; baseline of the bare ratios)', bare: true, load: { at: '/echo', closed: { method: 'POST', headers: jsonHeaders(), body: bodyOf(full) } } },
        { what: 'POST /bench/echo (baseline)', load: { at: '/bench/echo', closed: { method: 'POST', headers: jsonHeaders(), body: echoBody } } },
        { what: `POST /v1/triage (${largest.id}, every scenario step)`, load: { closed: closedLoop(triageStep) } },
        { what: `POST /v1/triage (${largest.id}, every scenario step) at half its rate`, load: { open: { ratio: HALF, of: 2 }, next: triageStep }, target: { serverP99: P99_TARGET_MS } },
        {
          what: `POST /v1/triage (${largest.id}, fullest answer set)`,
          load: { at: '/v1/triage', closed: { method: 'POST', headers: jsonHeaders(), body: bodyOf(full) } },
          target: { bareRatio: TRIAGE_BARE_RATIO_TARGET, cpu: CPU_TARGET_US },
        },
        {
          what: `POST /v1/triage (${largest.id}, fullest answer set) at half its rate`,
          load: { open: { ratio: HALF, of: 4 }, next: () => ({ method: 'POST', path: '/v1/triage', headers: jsonHeaders(), body: bodyOf(full) }) },
          target: { serverP99: P99_TARGET_MS },
        },
        { what: 'POST /v1/assessments/:id/answers', load: { closed: closedLoop(answerStep) }, target: { bareRatio: STEP_BARE_RATIO_TARGET } },
        { what: 'POST /v1/assessments/:id/answers at half its rate', load: { open: { ratio: HALF, of: 6 }, next: answerStep }, target: { serverP99: P99_TARGET_MS } },
        { what: `GET /v1/callbacks (${waiting})`, load: { closed: closedLoop(queue) } },
        // 50 call handlers' consoles, each reading the queue ten times a second.
        { what: `GET /v1/callbacks (${waiting}) at ${QUEUE_READS_PER_SECOND}/s`, load: { open: { rate: QUEUE_READS_PER_SECOND }, next: queue }, target: { p99: QUEUE_P99_TARGET_MS } },
        { what: `GET /v1/callbacks (${waiting}), 1 connection`, load: { closed: { ...closedLoop(queue), connections: 1 } }, target: { p99: QUEUE_P99_TARGET_MS } },
      ];
      const bare = await startBareEcho();
      let figures: Summary[];
      try {
        figures = await rounds(server, bare, runs, seconds, routes);
      } finally {
        await bare.stop();
      }
      routes.forEach(({ what, target, bare: isBare }, i) => {
        const r = figures[i]!;
        const checks = [
          target?.bareRatio !== undefined && { text: `bare ratio >= ${target.bareRatio.toFixed(2)}`, met: r.bareRatio >= target.bareRatio },
          target?.cpu !== undefined && { text: `CPU <= ${target.cpu} us`, met: r.cpu.all <= target.cpu },
          target?.p99 !== undefined && { text: `p99 < ${target.p99} ms`, met: r.p99 < target.p99 },
          target?.serverP99 !== undefined && { text: `p99 in the server < ${target.serverP99} ms`, met: r.serverP99 < target.serverP99 },
        ].filter((x) => x !== false);
        const us = (x: number) => (Number.isNaN(x) ? 'n/a' : x.toFixed(0));
        table.add({
          kind: 'http',
          what: `${what}${r.errors ? ` (${r.errors} non-2xx)` : ''}`,
          throughput: `${r.rps.toFixed(0)}/s`,
          median: `${r.p50} ms`,
          p99: `${medianWithRange(r.p99s, String)} ms`,
          inServer: Number.isNaN(r.serverP99) ? 'n/a' : `${r.serverP50.toFixed(1)} / ${r.serverP99.toFixed(1)} ms`,
          cpu: `${us(r.cpu.all)} (${us(r.cpu.loop)}, ${us(r.cpu.busiest)}) us`,
          generatorStall: `${r.generatorStall.toFixed(0)} ms`,
          ratio: isBare ? '' : medianWithRange(r.ratios, (x) => x.toFixed(2)),
          bareRatio: medianWithRange(r.bareRatios, (x) => x.toFixed(2)),
          target: checks.length ? { text: checks.map((c) => c.text).join(', '), met: checks.every((c) => c.met) && r.errors === 0 } : undefined,
        });
      });
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
