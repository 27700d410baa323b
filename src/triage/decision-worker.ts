import { parentPort, threadId, workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { WORKER_LOADED } from './decision-pool.js';
import { restorePathwayVersion } from '../rulesets/version.js';
import type { RuleEvaluationMode } from './engines.js';
import { Triage } from './triage.js';
import { decideStep, type DecidedStep, type StepInput } from './step.js';

/** How every worker decides: the same settings as the event loop would use. */
export interface WorkerSettings {
  timeoutMs: number;
  ruleEvaluation: RuleEvaluationMode;
}

/** A step to decide on a version named by hash; its content comes along only when asked for. */
export interface StepTask {
  hash: string;
  content?: string;
  input: StepInput;
}

/** A decided step; or a version to be sent; or why this step, alone in its batch, could not be decided. */
export type StepReply = DecidedStep | { unknownVersion: string } | { failed: string };

// Each worker keeps its own engines, built once per version the first time it is handed one.
const triage = new Triage([], workerData as WorkerSettings);

async function decideOne(task: StepTask): Promise<StepReply> {
  let version = triage.version(task.hash);
  if (!version) {
    if (task.content === undefined) {
      return { unknownVersion: task.hash };
    }
    version = restorePathwayVersion(task.hash, task.content);
    triage.register(version);
  }
  return decideStep(triage, version, task.input);
}

/**
 * A decision worker's task: a batch of steps, decided one after another (each within its own
 * time budget), their traces drafted, all sent back in one message. The traces' bytes are
 * moved to the event loop's thread, not copied.
 */
export default async function decideBatch(tasks: StepTask[]): Promise<StepReply[]> {
  const replies: StepReply[] = [];
  const traces: ArrayBuffer[] = [];
  for (const task of tasks) {
    const reply = await decideOne(task).catch((err: unknown) => ({ failed: err instanceof Error ? err.message : String(err) }));
    if ('draft' in reply) {
      traces.push(reply.draft.members.buffer as ArrayBuffer);
      if (reply.draft.packed) traces.push(reply.draft.packed.buffer as ArrayBuffer);
    }
    replies.push(reply);
  }
  return move({ [transferableSymbol]: traces, [valueSymbol]: replies }) as unknown as StepReply[];
}

// Loaded: the pool may now end this thread safely (see DecisionPool.close).
parentPort?.postMessage({ [WORKER_LOADED]: threadId });
