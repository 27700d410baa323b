import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { ChainVerdict, VerifyRange } from './trace.js';

/** What the verification thread says: progress after each page, then the verdict. */
export type VerifyMessage = { progress: { verified: number; lastSeq: number } } | { verdict: ChainVerdict };

/**
 * One verification of the trace chain, on a thread of its own with a connection of its own:
 * reading, hashing and parsing every trace takes seconds per hundred thousand, none of it on
 * the thread that answers requests.
 *
 * First, the lowest priority there is, for this thread alone (on Linux a thread's nice value is
 * its own): on a busy machine patients' requests come first and the verification takes longer.
 * Before anything else, so that even loading the modules below waits its turn.
 */
try {
  setPriority(19);
} catch {
  // Not permitted here: it runs at normal priority.
}
const { openReader } = await import('../store/store.js');
const { traceRepository } = await import('../store/traces.js');
const { url, range } = workerData as { url: string; range: VerifyRange };
const reader = openReader(url);
try {
  const verdict = await traceRepository().walk(reader.read, range, (progress) => parentPort!.postMessage({ progress } satisfies VerifyMessage));
  parentPort!.postMessage({ verdict } satisfies VerifyMessage);
} finally {
  await reader.close();
}
