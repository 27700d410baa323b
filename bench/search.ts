import path from 'node:path';
import type { PathwayVersion } from '../src/rulesets/version.js';
import { loadLabelledQueries } from '../src/search/evaluation.js';
import { TopicSearch } from '../src/search/topic-search.js';
import { ROOT } from './server.js';
import { median, medianWithRange, percentile, type Table } from './stats.js';

export const SEARCH_TARGET_P99_MS = 5;
const MAX_SAMPLES = 500_000;

/**
 * Milliseconds per symptom search, in-process: every lay query of the evaluation set, as typed
 * (typos and all), half of them for a given person (the filter by age band and sex).
 */
export async function searchBench(table: Table, versions: PathwayVersion[], runs: number, seconds: number): Promise<void> {
  const queries = (await loadLabelledQueries(path.join(ROOT, 'test/fixtures/search-queries.yaml'))).map((q) => q.q);
  const people = [undefined, { ageYears: 34, sex: 'female' as const }, undefined, { ageYears: 3, sex: 'male' as const }];
  const t0 = performance.now();
  const search = new TopicSearch(versions);
  const buildMs = performance.now() - t0;
  const medians: number[] = [];
  const p99s: number[] = [];
  for (let run = 0; run < runs; run++) {
    for (const q of queries) search.search(q); // warm-up
    // Preallocated: a growing array of millions of samples would add its own garbage collection
    // pauses to the figures being measured.
    const samples = new Float64Array(MAX_SAMPLES);
    let n = 0;
    const until = performance.now() + seconds * 1000;
    while (performance.now() < until && n + queries.length <= MAX_SAMPLES) {
      queries.forEach((q, i) => {
        const start = performance.now();
        search.search(q, people[i % people.length]);
        samples[n++] = performance.now() - start;
      });
    }
    const times = Array.from(samples.subarray(0, n));
    medians.push(median(times));
    p99s.push(percentile(times, 0.99));
  }
  const p99 = median(p99s);
  table.add({
    kind: 'search',
    what: `symptom search, ${queries.length} lay queries over ${new Set(versions.map((v) => v.definition.pathway.topic ?? v.id)).size} topics (index built in ${buildMs.toFixed(1)} ms)`,
    median: `${medianWithRange(medians, (x) => x.toFixed(3))} ms`,
    p99: `${p99.toFixed(3)} ms`,
    target: { text: `p99 < ${SEARCH_TARGET_P99_MS} ms`, met: p99 < SEARCH_TARGET_P99_MS },
  });
}
