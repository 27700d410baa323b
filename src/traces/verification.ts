import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { VerificationRunning } from '../errors.js';
import type { TraceVerificationTable } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { traceRepository, type VerifyRequest } from '../store/traces.js';
import { formatAnchor, type ChainVerdict, type VerifyRange } from './trace.js';
import type { VerifyMessage } from './verify-worker.js';

/** A verification of the trace chain as an auditor follows it: where it is, then its verdict. */
export interface Verification {
  id: string;
  state: TraceVerificationTable['state'];
  range: { from: number; to: number };
  anchor: string | null;
  progress: { verified: number; total: number };
  startedAt: string;
  finishedAt: string | null;
  verdict: ChainVerdict | null;
  error: string | null;
}

/** How often a running verification records its progress, which is also its heartbeat. */
const HEARTBEAT_MS = 1000;
/** A running verification not heard from in this long died with the instance running it. */
const STALE_MS = 30_000;

function present(row: TraceVerificationTable, now: number): Verification {
  const from = Number(row.from_seq);
  const to = Number(row.to_seq);
  const stale = row.state === 'running' && now - Date.parse(row.updated_at) > STALE_MS;
  return {
    id: row.id,
    state: stale ? 'failed' : row.state,
    range: { from, to },
    anchor: row.anchor,
    progress: { verified: Number(row.verified), total: Math.max(0, to - from + 1) },
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    verdict: row.verdict ? (JSON.parse(row.verdict) as ChainVerdict) : null,
    error: stale ? `not heard from since ${row.updated_at}: the instance running it stopped` : row.error,
  };
}

/**
 * Verifications started over HTTP: each runs on a thread of its own (see verify-worker.ts) and
 * is recorded in the database as it goes, so the request that starts one is answered at once
 * and any instance can say how it is getting on. One at a time per instance: asking again for
 * the same range joins the one running.
 */
export function verificationService(store: Store, databaseUrl: string): VerificationService {
  const traces = traceRepository();
  const running = new Map<string, { key: string; verified: () => number; stop: () => Promise<void> }>();

  /** Records progress or the outcome; a heartbeat landing after the outcome changes nothing. */
  async function update(id: string, changes: Partial<TraceVerificationTable>): Promise<void> {
    await store.write((trx) =>
      trx
        .updateTable('trace_verifications')
        .set({ ...changes, updated_at: new Date().toISOString() })
        .where('id', '=', id)
        .where('state', '=', 'running')
        .execute(),
    );
  }

  /** Runs the walk, off the request thread unless the database lives in this process's memory. */
  function launch(range: VerifyRange, onProgress: (verified: number) => void): { verdict: Promise<ChainVerdict>; stop: () => Promise<void> } {
    if (store.location === ':memory:') {
      // No other connection can see this database: the walk runs here, a page at a time.
      return { verdict: traces.walk(store.read, range, (p) => onProgress(p.verified)), stop: async () => undefined };
    }
    const worker = new Worker(new URL('./verify-worker.js', import.meta.url), { workerData: { url: databaseUrl, range } });
    const verdict = new Promise<ChainVerdict>((resolve, reject) => {
      worker.on('message', (message: VerifyMessage) => ('verdict' in message ? resolve(message.verdict) : onProgress(message.progress.verified)));
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`the verification thread stopped (exit ${code}) before its verdict`)));
    });
    return { verdict, stop: async () => void (await worker.terminate()) };
  }

  return {
    async start(request: VerifyRequest): Promise<Verification> {
      const range = await traces.range(store.read, request);
      const anchor = range.anchor ? formatAnchor(range.anchor) : null;
      const key = JSON.stringify([range.from, range.to, anchor]);
      for (const [id, job] of running) {
        if (job.key === key) return (await this.get(id))!;
        throw new VerificationRunning(`verification ${id} of another range is still running on this instance: follow it at /v1/trace-verifications/${id}, and ask again once it is done`);
      }
      const id = randomUUID();
      const at = new Date().toISOString();
      const row: TraceVerificationTable = { id, state: 'running', from_seq: range.from, to_seq: range.to, anchor, verified: 0, started_at: at, updated_at: at, finished_at: null, verdict: null, error: null };
      await store.write((trx) => trx.insertInto('trace_verifications').values(row).execute());

      let verified = 0;
      const walk = launch(range, (n) => void (verified = n));
      const heartbeat = setInterval(() => void update(id, { verified }).catch(() => undefined), HEARTBEAT_MS);
      heartbeat.unref();
      const finished = walk.verdict.then(
        (verdict) => ({ state: 'done' as const, verified: verdict.verified, verdict: JSON.stringify(verdict), error: null }),
        (err: Error) => ({ state: 'failed' as const, verified, verdict: null, error: err.message }),
      );
      const done = finished.then(async (outcome) => {
        clearInterval(heartbeat);
        // No longer joinable once it has its verdict: a request from now on starts afresh.
        running.delete(id);
        await update(id, { ...outcome, finished_at: new Date().toISOString() }).catch(() => undefined);
      });
      running.set(id, {
        key,
        verified: () => verified,
        stop: async () => {
          await walk.stop();
          await done;
        },
      });
      return present(row, Date.now());
    },

    async get(id: string): Promise<Verification | undefined> {
      const row = await store.read.selectFrom('trace_verifications').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return undefined;
      const verification = present(row, Date.now());
      // Running here: its progress as of the last page, not the last heartbeat.
      const local = running.get(id);
      if (local && verification.state === 'running') verification.progress.verified = local.verified();
      return verification;
    },

    /** Stops what runs here (the service is stopping): each is recorded as failed, and why. */
    async close(): Promise<void> {
      await Promise.all([...running.values()].map((job) => job.stop()));
    },
  };
}

/** Chain verifications, one running per instance at a time. */
export interface VerificationService {
  start(request: VerifyRequest): Promise<Verification>;
  get(id: string): Promise<Verification | undefined>;
  /** Stops what runs here (the service is stopping): each is recorded as failed, and why. */
  close(): Promise<void>;
}
