import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { PathwayVersion } from '../rulesets/version.js';
import { failSafeStep, type DecidedStep, type Decider, type FailSafe, type StepInput } from './step.js';
import type { StepReply, StepTask, WorkerSettings } from './decision-worker.js';

/** Decision threads by default: every core but the one the event loop runs on, up to four. */
export const DEFAULT_DECISION_WORKERS = Math.max(0, Math.min(4, availableParallelism() - 1));

/**
 * Steps sent to a worker in one message at most: large enough that replies share commits,
 * small enough that the event loop has the previous batch's replies to store while a worker
 * decides the next (at 64, the two mostly waited on each other).
 */
const MAX_BATCH = 16;

export interface DecisionPoolOptions extends WorkerSettings {
  threads: number;
  /**
   * How long a batch may take before its worker is taken to be stuck (and ended). Every step
   * has its own budget inside the worker, so by default: a full batch of steps, each taking
   * its whole budget, twice over (the second time for a version the worker had to be sent).
   */
  stuckAfterMs?: number;
  /** Told about engine errors, timeouts and failed workers; never given answers or patient details. */
  onFailSafe?: (cause: FailSafe['cause'], detail: string) => void;
}

/** The message a decision worker posts once its module has loaded, with its thread id. */
export const WORKER_LOADED = 'decisionWorkerLoaded';

const isLoadedMessage = (message: unknown): message is { [WORKER_LOADED]: number } => typeof message === 'object' && message !== null && WORKER_LOADED in message;

interface Pending {
  version: PathwayVersion;
  input: StepInput;
  resolve: (step: DecidedStep) => void;
}

/**
 * Decisions in worker threads. Evaluating rules and serialising a trace are most of a step's
 * CPU; on the event loop they hold up every other request, in workers they run beside it.
 *
 * Steps go to the workers in batches: whatever is waiting when a worker comes free. Batches
 * keep the messaging cheap, and their replies arrive together, so their writes share one
 * group commit (one at a time, each reply would cost a commit and an fsync of its own).
 *
 * Whatever goes wrong with a worker (it crashes, or never answers), the steps it held get the
 * pathway's conservative fallback, traced with the cause: never self-care.
 */
export class DecisionPool implements Decider {
  private readonly pool: Piscina<StepTask[], StepReply[]>;
  /** Past this a batch is taken to be stuck: it is aborted, which ends its thread. */
  private readonly stuckAfterMs: number;
  private pending: Pending[] = [];
  private busy = 0;
  private scheduled = false;
  private whenIdle: (() => void)[] = [];
  /** Threads whose module has loaded (see decision-worker.ts), and who waits for the rest. */
  private readonly loaded = new Set<number>();
  private whenLoaded: (() => void)[] = [];

  constructor(private readonly options: DecisionPoolOptions) {
    const settings: WorkerSettings = { timeoutMs: options.timeoutMs, ruleEvaluation: options.ruleEvaluation };
    this.pool = new Piscina({
      filename: new URL('./decision-worker.js', import.meta.url).href,
      minThreads: options.threads,
      maxThreads: options.threads,
      // Workers live as long as the pool: each holds engines built for the versions it has seen.
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData: settings,
    });
    this.stuckAfterMs = options.stuckAfterMs ?? options.timeoutMs * MAX_BATCH * 2;
    const loadedOrGone = (): void => this.whenLoaded.splice(0).forEach((resolve) => resolve());
    this.pool.on('message', (message: unknown) => {
      if (isLoadedMessage(message)) {
        this.loaded.add(message[WORKER_LOADED]);
        loadedOrGone();
      }
    });
    this.pool.on('workerDestroy', loadedOrGone);
  }

  queueDepth(): number {
    return this.pending.length;
  }

  step(version: PathwayVersion, input: StepInput): Promise<DecidedStep> {
    return new Promise((resolve) => {
      this.pending.push({ version, input, resolve });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the poll phase, so steps whose requests were read in the same turn go together.
        setImmediate(() => {
          this.scheduled = false;
          this.dispatch();
        });
      }
    });
  }

  private dispatch(): void {
    while (this.busy < this.options.threads && this.pending.length > 0) {
      const batch = this.pending.splice(0, Math.min(MAX_BATCH, Math.ceil(this.pending.length / (this.options.threads - this.busy))));
      this.busy += 1;
      void this.decide(batch).finally(() => {
        this.busy -= 1;
        this.dispatch();
      });
    }
    if (this.busy === 0 && this.pending.length === 0) {
      this.whenIdle.splice(0).forEach((resolve) => resolve());
    }
  }

  private async decide(batch: Pending[]): Promise<void> {
    const signal = AbortSignal.timeout(this.stuckAfterMs);
    const first = await this.run(
      batch.map(({ version, input }) => ({ hash: version.hash, input })),
      signal,
    );
    // A worker meets each version once: the steps it did not know the version of go again,
    // this time with the version's content.
    const unknown = Array.isArray(first) ? batch.filter((_, i) => 'unknownVersion' in first[i]!) : [];
    const second =
      unknown.length > 0
        ? await this.run(
            unknown.map(({ version, input }) => ({ hash: version.hash, content: version.canonical, input })),
            signal,
          )
        : [];
    batch.forEach((pending, i) => {
      const reply = Array.isArray(first) ? first[i]! : first;
      const retried = 'unknownVersion' in reply ? (Array.isArray(second) ? second[unknown.indexOf(pending)]! : second) : reply;
      this.settle(pending, this.stepOf(pending, retried));
    });
  }

  /** The workers' replies to a batch, or the fail-safe each of its steps gets if they failed it. */
  private async run(tasks: StepTask[], signal: AbortSignal): Promise<StepReply[] | FailSafe> {
    try {
      return await this.pool.run(tasks, { signal });
    } catch (err) {
      return signal.aborted
        ? { cause: 'timeout', detail: `the decision worker did not answer within ${this.stuckAfterMs} ms` }
        : { cause: 'engine_error', detail: `the decision worker failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  private stepOf({ version, input }: Pending, reply: StepReply | FailSafe): DecidedStep {
    if ('draft' in reply) {
      return reply;
    }
    if ('unknownVersion' in reply) {
      return failSafeStep(version, input, { cause: 'engine_error', detail: `the decision worker could not take version ${version.hash}` });
    }
    return failSafeStep(version, input, 'failed' in reply ? { cause: 'engine_error', detail: `the decision worker failed: ${reply.failed}` } : reply);
  }

  private settle(pending: Pending, step: DecidedStep): void {
    if (step.failSafe) {
      this.options.onFailSafe?.(step.failSafe.cause, step.failSafe.detail);
    }
    pending.resolve(step);
  }

  /**
   * Waits for the steps already handed in and for every thread to have loaded its module, then
   * ends the threads. Ending a thread still loading its module crashed Node 20 (a fatal error in
   * its module loader), so a pool closed straight after it was made waits for the load.
   */
  async close(): Promise<void> {
    if (this.busy > 0 || this.pending.length > 0) {
      await new Promise<void>((resolve) => this.whenIdle.push(resolve));
    }
    while (this.pool.threads.some((thread) => !this.loaded.has(thread.threadId))) {
      await new Promise<void>((resolve) => this.whenLoaded.push(resolve));
    }
    await this.pool.close();
  }
}
