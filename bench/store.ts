import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { callbackService } from '../src/callbacks/service.js';
import type { PathwayVersion } from '../src/rulesets/version.js';
import { ContactCipher, parseEncryptionKeys } from '../src/security/contact-crypto.js';
import { openStore, type Store } from '../src/store/store.js';
import { traceRepository } from '../src/store/traces.js';
import { versionRepository } from '../src/store/versions.js';
import { draftTrace } from '../src/traces/trace.js';
import { Triage } from '../src/triage/triage.js';
import { seedCallbacks, type Cases } from './cases.js';
import { ENCRYPTION_KEYS } from './server.js';
import { median, type Table } from './stats.js';

async function withStore<T>(use: (store: Store) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), 'triage-bench-'));
  const store = await openStore(`sqlite:${path.join(dir, 'bench.db')}`);
  try {
    return await use(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Calls `work` from `writers` concurrent loops for `seconds`; returns completions per second. */
async function sustained(writers: number, seconds: number, work: (writer: number) => Promise<boolean>): Promise<number> {
  let done = 0;
  const until = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      while (performance.now() < until) {
        if (await work(w)) done += 1;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

export const APPEND_TARGET = 2000;

/** Durable trace appends (one commit each, then 50 writers sharing commits) and claim throughput. */
export async function storeBench(table: Table, versions: PathwayVersion[], cases: Cases, runs: number, seconds: number, largest: PathwayVersion): Promise<void> {
  const triage = new Triage(versions, { timeoutMs: 10_000 });
  const c = cases.byPathway.get(largest.id)![3]!;
  const decision = await triage.decide(largest, c.patient, c.answers);
  const append = (store: Store) => () =>
    store.write(async (_trx, chain) => {
      chain.append(draftTrace({ version: largest, assessmentId: null, step: null, patient: c.patient, answers: c.answers, decision, startedAt: Date.now(), durationMs: 0 }));
      return true;
    });
  for (const writers of [1, 50]) {
    const rates: number[] = [];
    let batch = 0;
    for (let run = 0; run < runs; run++) {
      await withStore(async (store) => {
        await store.write((trx) => versionRepository().remember(trx, largest, new Date().toISOString()));
        const one = append(store);
        rates.push(await sustained(writers, seconds, one));
        batch = store.commits.writes / store.commits.commits;
        const verdict = await traceRepository().verify(store.read);
        if (!verdict.ok) throw new Error(`the trace chain broke under the benchmark: ${verdict.reason}`);
      });
    }
    const rate = median(rates);
    table.add({
      kind: 'store',
      what: writers === 1 ? 'trace appends, 1 writer (a commit each)' : `trace appends, ${writers} writers (group commit, ${batch.toFixed(1)}/commit)`,
      throughput: `${rate.toFixed(0)}/s`,
      target: writers > 1 ? { text: `>= ${APPEND_TARGET}/s durable`, met: rate >= APPEND_TARGET } : undefined,
    });
  }

  // Claims: 20 call handlers emptying a queue, each taking the most urgent request it can get.
  const rates: number[] = [];
  const conflicts: number[] = [];
  const queued = Math.max(500, Math.round(seconds * 1200));
  for (let run = 0; run < runs; run++) {
    await withStore(async (store) => {
      await seedCallbacks(store, triage, cases, queued);
      const callbacks = callbackService(store, { leaseSeconds: 600, cipher: new ContactCipher(parseEncryptionKeys(ENCRYPTION_KEYS)) });
      let claimed = 0;
      let lost = 0;
      const start = performance.now();
      await Promise.all(
        Array.from({ length: 20 }, async (_, w) => {
          for (;;) {
            const { callbacks: rows } = await callbacks.queue({ status: 'waiting', limit: 20 });
            const pick = rows[w % Math.max(1, rows.length)];
            if (!pick) return;
            try {
              await callbacks.claim(pick.id, `handler-${w}`);
              claimed += 1;
            } catch {
              lost += 1; // someone else got there first: a 409, as a handler would see
            }
          }
        }),
      );
      rates.push(claimed / ((performance.now() - start) / 1000));
      if (claimed !== queued) throw new Error(`${claimed} of ${queued} requests were claimed`);
      conflicts.push(lost);
      const twice = await store.read
        .selectFrom('callback_events')
        .select('callback_id')
        .where('action', '=', 'claim')
        .groupBy('callback_id')
        .having((eb) => eb.fn.countAll(), '>', 1)
        .execute();
      if (twice.length > 0) throw new Error(`${twice.length} requests were claimed twice`);
    });
  }
  table.add({ kind: 'store', what: `callback claims, 20 claimers emptying ${queued} requests (${median(conflicts)} lost races)`, throughput: `${median(rates).toFixed(0)}/s` });
}
