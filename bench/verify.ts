import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PathwayVersion } from '../src/rulesets/version.js';
import { openStore } from '../src/store/store.js';
import { Triage } from '../src/triage/triage.js';
import { fullest, seedTraces, type Cases } from './cases.js';
import { openLoop, type HttpRequest, type OpenLoopResult } from './open-loop.js';
import { ADMIN_KEY, startServer, type BenchServer } from './server.js';
import { median, medianWithRange, percentile, type Table } from './stats.js';

/** Decisions a second while the chain is verified: a busy service's patient traffic. */
export const VERIFY_LOAD_RATE = 200;
export const VERIFY_TRACES = 200_000;

interface Verification {
  state: string;
  progress: { verified: number; total: number };
  verdict: { ok: boolean } | null;
}

/** GETs a verification route as an auditor; the answer and where to follow it. */
async function auditorGet(server: BenchServer, url: string): Promise<{ verification: Verification; location: string | null }> {
  const res = await fetch(`${server.base}${url}`, { headers: { 'x-api-key': ADMIN_KEY } });
  if (res.status !== 200 && res.status !== 202) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return { verification: (await res.json()) as Verification, location: res.headers.get('location') };
}

/**
 * Patients' p99 with and without a verification of the whole chain running: the same decisions
 * at the same rate, first alone, then while `GET /v1/traces/verify` walks `traces` traces seeded
 * straight through the store. Each loaded window starts with the verification and is reported
 * with how much of it the verification covered: a window the verification outlived measured
 * the whole window under it.
 */
export async function verifyBench(table: Table, versions: PathwayVersion[], cases: Cases, runs: number, seconds: number, largest: PathwayVersion, traces: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'triage-bench-'));
  const database = path.join(dir, 'bench.db');
  try {
    const full = fullest(cases, largest.id);
    const triage = new Triage(versions, { timeoutMs: 10_000 });
    const seedStore = await openStore(`sqlite:${database}`);
    // Traces of a middling size (an assessment's fourth step, about 9 KB), as the store bench's.
    const typical = cases.byPathway.get(largest.id)![3]!;
    const decision = await triage.decide(largest, typical.patient, typical.answers);
    await seedTraces(seedStore, { version: largest, assessmentId: null, step: null, patient: typical.patient, answers: typical.answers, decision, startedAt: Date.now(), durationMs: 1 }, traces);
    await seedStore.close();

    const server = await startServer(dir, database);
    try {
      const body = JSON.stringify({ pathwayId: largest.id, patient: full.patient, answers: Object.fromEntries(full.answers.map((a) => [a.questionId, a.value])) });
      const next = (): HttpRequest => ({ method: 'POST', path: '/v1/triage', headers: { 'content-type': 'application/json' }, body });
      const window = () => openLoop(server.base, { rate: VERIFY_LOAD_RATE, seconds, connections: 50, next });
      const quiet: (OpenLoopResult & { serverP99: number })[] = [];
      const loaded: (OpenLoopResult & { serverP99: number; covered: number; verifySeconds: number })[] = [];
      const serverP99 = (mark: number) => {
        const times = server.responseTimes(mark);
        return times.length ? percentile(times, 0.99) : Number.NaN;
      };
      // A first, unrecorded pair warms the server up.
      for (let run = -1; run < runs; run++) {
        let mark = server.logMark();
        const alone = await window();
        const aloneInServer = serverP99(mark);
        mark = server.logMark();
        const started = performance.now();
        const { location } = await auditorGet(server, '/v1/traces/verify');
        let finished: number | undefined;
        const watch = (async () => {
          for (;;) {
            const v = (await auditorGet(server, location!)).verification;
            if (v.state !== 'running') {
              finished = performance.now();
              if (v.state !== 'done' || !v.verdict?.ok) throw new Error(`the verification did not pass: ${JSON.stringify(v)}`);
              return;
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        })();
        const under = await window();
        const windowEnd = performance.now();
        const underInServer = serverP99(mark);
        await watch;
        if (run < 0) continue;
        quiet.push({ ...alone, serverP99: aloneInServer });
        loaded.push({ ...under, serverP99: underInServer, covered: Math.min(1, (finished! - started) / (windowEnd - started)), verifySeconds: (finished! - started) / 1000 });
      }
      const count = traces.toLocaleString('en-GB');
      const row = (what: string, rs: (OpenLoopResult & { serverP99: number })[]) =>
        table.add({
          kind: 'verify',
          what: `${what}${Math.max(...rs.map((r) => r.errors)) ? ` (${Math.max(...rs.map((r) => r.errors))} non-2xx)` : ''}`,
          throughput: `${median(rs.map((r) => r.rps)).toFixed(0)}/s`,
          median: `${median(rs.map((r) => r.p50))} ms`,
          p99: `${medianWithRange(
            rs.map((r) => r.p99),
            String,
          )} ms`,
          inServer: `p99 ${median(rs.map((r) => r.serverP99)).toFixed(1)} ms`,
        });
      row(`POST /v1/triage at ${VERIFY_LOAD_RATE}/s, no verification running`, quiet);
      row(`POST /v1/triage at ${VERIFY_LOAD_RATE}/s while verifying ${count} traces (running ${(median(loaded.map((r) => r.covered)) * 100).toFixed(0)}% of the window)`, loaded);
      const verifySeconds = median(loaded.map((r) => r.verifySeconds));
      table.add({
        kind: 'verify',
        what: `GET /v1/traces/verify, ${count} traces, under that load (to its verdict)`,
        throughput: `${(traces / verifySeconds).toFixed(0)} traces/s`,
        median: `${verifySeconds.toFixed(1)} s`,
      });
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
