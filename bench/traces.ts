import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { assessmentService } from '../src/assessments/service.js';
import type { PathwayVersion } from '../src/rulesets/version.js';
import { openStore, type Store } from '../src/store/store.js';
import { draftTrace, GENESIS_HASH, sealTrace } from '../src/traces/trace.js';
import type { Answer, Patient } from '../src/triage/answers.js';
import { stepDecision } from '../src/triage/decision.js';
import type { Decider } from '../src/triage/step.js';
import { Triage } from '../src/triage/triage.js';
import { fullest, type Cases } from './cases.js';
import type { Table } from './stats.js';

export const TRACE_BYTES_TARGET = 2000;
/** Assessments walked for the stored-bytes figure: enough that pages left part-full do not count. */
export const TRACE_ASSESSMENTS = 300;
const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

type Format = 'full' | 'compact';

/** Decides on the event loop and drafts each trace in the format asked for: the service's own walk otherwise. */
function decider(triage: Triage, format: Format): Decider {
  return {
    async step(version, input) {
      const decision = await triage.decide(version, input.patient, input.answers);
      return { decision: stepDecision(decision), draft: draftTrace({ version, ...input, decision, startedAt: Date.now(), durationMs: 0, ...(format === 'full' ? { format } : {}) }) };
    },
    queueDepth: () => 0,
    close: async () => undefined,
  };
}

/** Walks `count` assessments through the largest pathway's longest scenario, as patients would. */
async function walk(store: Store, triage: Triage, format: Format, pathwayId: string, patient: Patient, answers: Answer[], count: number): Promise<void> {
  const noCallbacks = { follow: async () => undefined, announceFollowed: async () => undefined };
  const assessments = assessmentService(store, triage, decider(triage, format), noCallbacks);
  const one = async () => {
    const started = await assessments.start(pathwayId, patient);
    for (const a of answers) await assessments.answer(started.assessment.id, started.token, a.questionId, a.value);
  };
  for (let i = 0; i < count; i += 50) await Promise.all(Array.from({ length: Math.min(50, count - i) }, one));
}

/** Bytes the assessments and their traces take, tables and indexes, on SQLite (dbstat, after a checkpoint). */
function sqliteBytes(file: string): number {
  const db = new SQLite(file);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
    const row = db.prepare(`select sum(pgsize) as bytes from dbstat where name in (select name from sqlite_schema where tbl_name in ('assessments', 'traces'))`).get() as { bytes: number };
    return row.bytes;
  } finally {
    db.close();
  }
}

/** The same on PostgreSQL: each table with its indexes and TOAST (pg_total_relation_size). */
async function postgresBytes(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // VACUUM FULL: the live rows, without the space earlier versions of updated assessments left for reuse.
    await client.query('vacuum full assessments, traces');
    const { rows } = await client.query<{ bytes: string }>(`select pg_total_relation_size('assessments') + pg_total_relation_size('traces') as bytes`);
    return Number(rows[0]!.bytes);
  } finally {
    await client.end();
  }
}

async function onSqlite(work: (store: Store) => Promise<void>): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'triage-bench-'));
  const file = path.join(dir, 'bench.db');
  try {
    const store = await openStore(`sqlite:${file}`);
    const empty = sqliteBytes(file);
    try {
      await work(store);
    } finally {
      await store.close();
    }
    return sqliteBytes(file) - empty;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Undefined when no PostgreSQL server answers (the figure is then printed as n/a). */
async function onPostgres(work: (store: Store) => Promise<void>): Promise<number | undefined> {
  const name = `triage_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  try {
    await admin.connect();
  } catch {
    return undefined;
  }
  try {
    await admin.query(`create database ${name}`);
    const url = new URL(POSTGRES_ADMIN_URL);
    url.pathname = `/${name}`;
    const store = await openStore(url.toString());
    const empty = await postgresBytes(url.toString());
    try {
      await work(store);
    } finally {
      await store.close();
    }
    return (await postgresBytes(url.toString())) - empty;
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

/**
 * Trace bytes per decision (the sealed text, the fullest answer set, and what a compact one
 * packs to) and stored bytes per assessment on SQLite and PostgreSQL, indexes included: the same
 * decisions traced in full (the format before compact traces) and compact, stored packed. Sizes
 * do not depend on the machine: one run.
 */
export async function traceBench(table: Table, versions: PathwayVersion[], cases: Cases, largest: PathwayVersion, assessments = TRACE_ASSESSMENTS): Promise<void> {
  const triage = new Triage(versions, { timeoutMs: 10_000 });
  for (const version of [largest, ...versions.filter((v) => v.id === 'fever-child' && v !== largest)]) {
    const c = fullest(cases, version.id);
    const decision = await triage.decide(version, c.patient, c.answers);
    const draft = (format: Format) =>
      draftTrace({ version, assessmentId: null, step: null, patient: c.patient, answers: c.answers, decision, startedAt: Date.now(), durationMs: 0.123, ...(format === 'full' ? { format } : {}) });
    const bytes = (format: Format) => Buffer.byteLength(sealTrace(draft(format), 1, GENESIS_HASH).text);
    const [full, compact, packed] = [bytes('full'), bytes('compact'), draft('compact').packed!.length];
    table.add({
      kind: 'traces',
      what: `trace bytes, fullest answer set (${version.id}, ${c.answers.length} answers): full / compact / compact as stored, packed`,
      median: `${full} / ${compact} / ${packed} B`,
      ratio: `${(full / compact).toFixed(1)}x less`,
      target: version === largest ? { text: `compact <= ${TRACE_BYTES_TARGET} B`, met: compact <= TRACE_BYTES_TARGET } : undefined,
    });
  }
  const c = fullest(cases, largest.id);
  const perAssessment = async (format: Format, on: (work: (store: Store) => Promise<void>) => Promise<number | undefined>) => {
    const bytes = await on((store) => walk(store, triage, format, largest.id, c.patient, c.answers, assessments));
    return bytes === undefined ? undefined : bytes / assessments;
  };
  const dialects = [
    ['SQLite', (format: Format) => perAssessment(format, onSqlite)],
    ['PostgreSQL', (format: Format) => perAssessment(format, onPostgres)],
  ] as const;
  for (const [dialect, measure] of dialects) {
    const full = await measure('full');
    const compact = await measure('compact');
    const what = `stored bytes per assessment on ${dialect}, tables and indexes (${largest.id}, ${c.answers.length + 1} steps, ${assessments} assessments): full / compact`;
    if (full === undefined || compact === undefined) {
      table.add({ kind: 'traces', what: `${what}: no server`, median: 'n/a' });
      continue;
    }
    table.add({ kind: 'traces', what, median: `${full.toFixed(0)} / ${compact.toFixed(0)} B`, ratio: `${(full / compact).toFixed(1)}x less`, target: { text: 'aim 5x less', met: full / compact >= 5 } });
  }
}
