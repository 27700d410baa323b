import type { PathwayVersion } from '../src/rulesets/version.js';
import { Triage } from '../src/triage/triage.js';
import type { Cases } from './cases.js';
import { median, medianWithRange, percentile, type Table } from './stats.js';

export const ENGINE_TARGET_US = 150;

/** Microseconds per decision, in-process, over every step of every scenario of each pathway. */
export async function engineBench(table: Table, versions: PathwayVersion[], cases: Cases, runs: number, seconds: number, largest: PathwayVersion): Promise<void> {
  const triage = new Triage(versions, { timeoutMs: 10_000 });
  for (const version of [...versions].sort((a, b) => b.rules.length - a.rules.length)) {
    const list = cases.byPathway.get(version.id) ?? [];
    const medians: number[] = [];
    const p99s: number[] = [];
    for (let run = 0; run < runs; run++) {
      for (const c of list) await triage.decide(version, c.patient, c.answers); // warm-up
      const times: number[] = [];
      const until = performance.now() + seconds * 1000;
      while (performance.now() < until) {
        for (const c of list) {
          const t0 = performance.now();
          await triage.decide(version, c.patient, c.answers);
          times.push((performance.now() - t0) * 1000);
        }
      }
      medians.push(median(times));
      p99s.push(percentile(times, 0.99));
    }
    const m = median(medians);
    table.add({
      kind: 'engine',
      what: `${version.id} (${version.rules.length} rules)`,
      median: `${medianWithRange(medians, (x) => x.toFixed(0))} us`,
      p99: `${median(p99s).toFixed(0)} us`,
      target: version === largest ? { text: `median < ${ENGINE_TARGET_US} us`, met: m < ENGINE_TARGET_US } : undefined,
    });
  }
}
