import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import type { PathwayVersion } from '../src/rulesets/version.js';
import { fullest, type Cases } from './cases.js';
import { closedLoop, CONNECTIONS, openAssessments, stepRequests } from './http.js';
import { startServer } from './server.js';
import type { Table } from './stats.js';

export const SOAK_GROWTH_TARGET = 0.1;
const WARM_UP_FRACTION = 1 / 6;

/**
 * Memory of the real server: RSS before and after `assessments` new assessments, then over a
 * soak of interactive steps, sampled every second. After the soak's warm-up it must level off.
 */
export async function memoryBench(table: Table, cases: Cases, largest: PathwayVersion, assessments: number, soakSeconds: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'triage-bench-'));
  const server = await startServer(dir, path.join(dir, 'bench.db'));
  try {
    const full = fullest(cases, largest.id);
    const mib = (x: number | undefined) => (x === undefined ? 'n/a' : `${x.toFixed(0)} MiB`);
    const before = server.rssMiB();
    const started = await autocannon({
      url: `${server.base}/v1/assessments`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pathwayId: largest.id, patient: full.patient }),
      connections: CONNECTIONS,
      amount: assessments,
    });
    const after = server.rssMiB();
    table.add({
      kind: 'memory',
      what: `RSS before / after ${assessments.toLocaleString('en-GB')} assessments (${started.non2xx + started.errors} non-2xx)`,
      throughput: `${started.requests.average.toFixed(0)}/s`,
      median: `${mib(before)} / ${mib(after)}`,
    });

    const open = await openAssessments(server, largest.id, full.patient, 2000);
    const samples: number[] = [];
    const sampler = setInterval(() => {
      const rss = server.rssMiB();
      if (rss !== undefined) samples.push(rss);
    }, 1000);
    const soak = await autocannon({ url: server.base, connections: CONNECTIONS, duration: soakSeconds, ...closedLoop(stepRequests(open, full.answers[0]!)) });
    clearInterval(sampler);
    if (samples.length < 2) {
      table.add({ kind: 'memory', what: `RSS over a ${soakSeconds} s soak`, median: 'n/a (no /proc)' });
      return;
    }
    const warm = samples[Math.floor(samples.length * WARM_UP_FRACTION)]!;
    const end = samples[samples.length - 1]!;
    const peak = Math.max(...samples.slice(Math.floor(samples.length * WARM_UP_FRACTION)));
    const growth = (end - warm) / warm;
    table.add({
      kind: 'memory',
      what: `RSS over a ${soakSeconds} s soak of steps: after warm-up / end / peak (${soak.non2xx + soak.errors} non-2xx)`,
      throughput: `${soak.requests.average.toFixed(0)}/s`,
      median: `${mib(warm)} / ${mib(end)} / ${mib(peak)}`,
      ratio: `${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}%`,
      target: { text: `growth < ${SOAK_GROWTH_TARGET * 100}%`, met: growth < SOAK_GROWTH_TARGET && soak.non2xx + soak.errors === 0 },
    });
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
