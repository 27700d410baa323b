import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadRuleCatalog } from '../src/rulesets/loader.js';
import { loadScenarioFiles, scenarioAnswers } from '../src/rulesets/scenarios.js';
import type { PathwayVersion } from '../src/rulesets/version.js';
import { openStore } from '../src/store/database.js';
import { traceRepository } from '../src/store/traces.js';
import { draftTrace } from '../src/traces/trace.js';
import type { Answer, Patient } from '../src/triage/answers.js';
import { Triage } from '../src/triage/triage.js';

/**
 * npm run bench: engine, store and HTTP figures from one process tree on this machine. The
 * machines are shared and noisy, so every figure is the median of several runs and HTTP figures
 * are also given as a ratio to a baseline route measured in the same run.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const RULES = path.join(ROOT, 'rules');
const { values } = parseArgs({ options: { quick: { type: 'boolean' }, runs: { type: 'string' }, seconds: { type: 'string' } } });
const RUNS = values.quick ? 1 : Number(values.runs ?? 3);
const SECONDS = values.quick ? 1 : Number(values.seconds ?? 5);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const rows: string[][] = [];
const row = (...cells: (string | number)[]) => rows.push(cells.map(String));

interface Case {
  patient: Patient;
  answers: Answer[];
}

/** Every prefix of every scenario: early steps, red flags and final decisions alike. */
async function casesByPathway(): Promise<Map<string, Case[]>> {
  const out = new Map<string, Case[]>();
  for (const file of await loadScenarioFiles(RULES)) {
    for (const scenario of file.scenarios) {
      const answers = scenarioAnswers(scenario) as Answer[];
      const list = out.get(file.pathway) ?? [];
      for (let n = 0; n <= answers.length; n++) list.push({ patient: scenario.patient, answers: answers.slice(0, n) });
      out.set(file.pathway, list);
    }
  }
  return out;
}

async function engine(versions: PathwayVersion[], cases: Map<string, Case[]>): Promise<void> {
  const triage = new Triage(versions, { timeoutMs: 10_000 });
  for (const version of [...versions].sort((a, b) => b.rules.length - a.rules.length)) {
    const list = cases.get(version.id) ?? [];
    const medians: number[] = [];
    const p99s: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      for (const c of list) await triage.decide(version, c.patient, c.answers); // warm-up
      const times: number[] = [];
      const until = performance.now() + (SECONDS * 1000) / 4;
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
    row('engine', `${version.id} (${version.rules.length} rules)`, '', `${median(medians).toFixed(0)} us`, `${median(p99s).toFixed(0)} us`, '');
  }
}

async function store(versions: PathwayVersion[], cases: Map<string, Case[]>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'triage-bench-'));
  try {
    const s = await openStore(`sqlite:${path.join(dir, 'bench.db')}`);
    const traces = traceRepository(s.db, s.dialect);
    const triage = new Triage(versions, { timeoutMs: 10_000 });
    const version = versions[0]!;
    const c = cases.get(version.id)![3]!;
    const decision = await triage.decide(version, c.patient, c.answers);
    await s.db.transaction().execute((trx) => traces.rememberVersion(trx, version, new Date().toISOString()));
    const rates: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      let n = 0;
      const start = performance.now();
      while (performance.now() - start < (SECONDS * 1000) / 2) {
        const draft = draftTrace({ version, assessmentId: null, step: null, patient: c.patient, answers: c.answers, decision, startedAt: Date.now(), durationMs: 0 });
        // One durable commit per trace, as a decision makes.
        await s.db.transaction().execute((trx) => traces.append(trx, draft));
        n += 1;
      }
      rates.push(n / ((performance.now() - start) / 1000));
    }
    row('store', 'trace appends, one durable commit each', `${median(rates).toFixed(0)}/s`, '', '', '');
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const KEY = 'bench-key-admin-0000000000';

async function http(cases: Map<string, Case[]>, largest: PathwayVersion): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'triage-bench-'));
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/server.js')], {
    env: {
      ...process.env,
      PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: `sqlite:${path.join(dir, 'bench.db')}`,
      RULES_DIR: RULES,
      BENCH_ECHO: 'true',
      RATE_LIMIT_PER_MINUTE: '1000000',
      TRIAGE_API_KEYS: `admin:${KEY}`,
      CONTACT_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
    },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const base = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`server exited (${code}): ${stderr.trim()}`)));
    });
    const full = [...(cases.get(largest.id) ?? [])].sort((a, b) => b.answers.length - a.answers.length)[0]!;
    const triageBody = JSON.stringify({ pathwayId: largest.id, patient: full.patient, answers: Object.fromEntries(full.answers.map((a) => [a.questionId, a.value])) });

    // Assessments to step through: each request re-answers the first question (a real step:
    // decide, store the state and its trace), spread over many assessments to avoid conflicts.
    const assessments: { id: string; token: string }[] = [];
    for (let i = 0; i < 400; i++) {
      const res = await fetch(`${base}/v1/assessments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pathwayId: largest.id, patient: full.patient }) });
      const body = (await res.json()) as { id: string; token: string };
      assessments.push({ id: body.id, token: body.token });
    }
    const first = full.answers[0]!;
    let next = 0;

    const measure = async (options: Partial<autocannon.Options> & { path?: string }): Promise<{ rps: number; p50: number; p99: number; errors: number }> => {
      const { path: at = '', ...rest } = options;
      const runs = [];
      for (let run = 0; run < RUNS; run++) {
        const result = await autocannon({ ...rest, url: `${base}${at}`, connections: 50, duration: SECONDS });
        runs.push({ rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.non2xx + result.errors });
      }
      return { rps: median(runs.map((r) => r.rps)), p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)), errors: Math.max(...runs.map((r) => r.errors)) };
    };
    const echo = await measure({ method: 'POST', path: '/bench/echo', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pathwayId: largest.id, patient: full.patient }) });
    const triage = await measure({ method: 'POST', path: '/v1/triage', headers: { 'content-type': 'application/json' }, body: triageBody });
    const step = await measure({
      requests: [
        {
          method: 'POST',
          setupRequest: (req) => {
            const a = assessments[next++ % assessments.length]!;
            return { ...req, path: `/v1/assessments/${a.id}/answers`, headers: { 'content-type': 'application/json', 'x-assessment-token': a.token }, body: JSON.stringify({ questionId: first.questionId, value: first.value }) };
          },
        },
      ],
    });
    const show = (name: string, r: typeof echo) => row('http', name, `${r.rps.toFixed(0)}/s`, `${r.p50} ms`, `${r.p99} ms`, `${(r.rps / echo.rps).toFixed(2)}${r.errors ? ` (${r.errors} non-2xx)` : ''}`);
    show('POST /bench/echo (baseline)', echo);
    show(`POST /v1/triage (${largest.id})`, triage);
    show('POST /v1/assessments/:id/answers', step);
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

const catalog = await loadRuleCatalog(RULES);
const versions = [...catalog.versions.values()];
const largest = [...versions].sort((a, b) => b.rules.length - a.rules.length)[0]!;
const cases = await casesByPathway();
await engine(values.quick ? [largest] : versions, cases);
await store(versions, cases);
await http(cases, largest);

const header = ['kind', 'what', 'throughput', 'median / p50', 'p99', 'ratio to baseline'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(`${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores, ${RUNS} run(s) of ${SECONDS}s, medians; 50 connections`);
console.log([line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n'));
