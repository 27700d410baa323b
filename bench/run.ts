import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { loadRuleCatalog } from '../src/rulesets/loader.js';
import { loadCases } from './cases.js';
import { engineBench } from './engine.js';
import { CONNECTIONS, httpBench } from './http.js';
import { memoryBench } from './memory.js';
import { searchBench } from './search.js';
import { REPORT_CALLBACKS, REPORT_TRACES, reportsBench } from './reports.js';
import { RULES } from './server.js';
import { Table } from './stats.js';
import { storeBench } from './store.js';
import { TRACE_ASSESSMENTS, traceBench } from './traces.js';
import { VERIFY_TRACES, verifyBench } from './verify.js';

/**
 * npm run bench: engine, store, HTTP and memory figures from one process tree on this machine.
 * The machines are shared and noisy, so every figure is the median of several runs, and HTTP
 * figures are also given as a ratio to a baseline route measured in the same run.
 *
 *   --quick        one short pass of everything
 *   --smoke        --quick, then exit 1 unless every section gave real figures and every
 *                  request succeeded (the harness check; targets met or not do not matter)
 *   --runs N       runs per figure (default 3)
 *   --seconds S    seconds per HTTP run (default 5)
 *   --only LIST    some of engine,search,store,traces,http,memory,verify,reports
 */
const SECTIONS = ['engine', 'search', 'store', 'traces', 'http', 'memory', 'verify', 'reports'] as const;
const { values } = parseArgs({ options: { quick: { type: 'boolean' }, smoke: { type: 'boolean' }, runs: { type: 'string' }, seconds: { type: 'string' }, only: { type: 'string' } } });
const smoke = values.smoke === true;
const quick = smoke || values.quick === true;
const runs = quick ? 1 : Number(values.runs ?? 3);
const seconds = quick ? 1 : Number(values.seconds ?? 5);
const only = new Set(values.only ? values.only.split(',') : SECTIONS);
for (const name of only) {
  if (!(SECTIONS as readonly string[]).includes(name)) {
    console.error(`--only takes some of ${SECTIONS.join(',')}; got ${name}`);
    process.exit(2);
  }
}

const catalog = await loadRuleCatalog(RULES);
const versions = [...catalog.versions.values()];
const largest = [...versions].sort((a, b) => b.rules.length - a.rules.length)[0]!;
const cases = await loadCases();
const table = new Table();
if (only.has('engine')) await engineBench(table, quick ? [largest] : versions, cases, runs, seconds / 4, largest);
if (only.has('search')) await searchBench(table, versions, runs, seconds / 4);
if (only.has('store')) await storeBench(table, versions, cases, runs, seconds / 2, largest);
if (only.has('traces')) await traceBench(table, versions, cases, largest, quick ? 30 : TRACE_ASSESSMENTS);
if (only.has('http')) await httpBench(table, versions, cases, runs, seconds, largest, quick ? 500 : 10_000);
if (only.has('verify')) await verifyBench(table, versions, cases, runs, seconds, largest, quick ? 2_000 : VERIFY_TRACES);
if (only.has('reports')) await reportsBench(table, runs, quick ? 10_000 : REPORT_TRACES, quick ? 1_000 : REPORT_CALLBACKS);
if (only.has('memory')) await memoryBench(table, cases, largest, quick ? 1_000 : 100_000, quick ? 3 : 60);

// The load average says how far the tail figures are this code and how far other processes.
console.log(
  `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores (load average ${loadavg()[0]!.toFixed(1)}), ${runs} run(s) of ${seconds} s, medians; ${CONNECTIONS} connections`,
);
console.log(table.render());

if (smoke) {
  const faults = table.smokeFaults([...only]);
  for (const fault of faults) console.error(`smoke: ${fault}`);
  process.exit(faults.length ? 1 : 0);
}
