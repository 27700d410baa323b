import type { Kysely, Transaction } from 'kysely';
import type { TraceDraft } from '../traces/trace.js';
import type { Database } from './schema.js';
import { insideUnit, outsideUnits, runUnit } from './units.js';

/** Traces a unit adds to the chain: appended with the whole batch's, just before its COMMIT. */
export interface TraceChain {
  append(draft: TraceDraft): void;
}

/** One unit of work: its reads and writes, and the traces explaining them, all or nothing. */
export type Write<T> = (trx: Transaction<Database>, chain: TraceChain) => Promise<T>;

/** Appends the traces of a batch's units that succeeded, in order, inside its transaction. */
export type AppendTraces = (trx: Transaction<Database>, drafts: TraceDraft[]) => Promise<void>;

interface Pending {
  /** Absent for a trace with nothing else to write, which needs no savepoint of its own. */
  work?: Write<unknown>;
  trace?: TraceDraft;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitOptions {
  appendTraces: AppendTraces;
  maxBatch?: number;
  /**
   * Makes a commit durable where COMMIT itself does not (SQLite's log, synced off the event
   * loop); called after each COMMIT, and no caller hears back before it resolves.
   */
  sync?: () => Promise<void>;
}

/**
 * Group commit. A durable commit costs an fsync, and one fsync per decision is what limits
 * throughput, so writes that arrive in the same event-loop turn share one transaction. Each
 * write runs in its own savepoint, one after another, so a write that fails is undone alone
 * and the others still commit. No caller is answered before the shared commit is on disk:
 * nothing is acknowledged before it is durable. A unit must do all its work through the `trx`
 * it is given: calling write() or the store's other connections from inside a unit would wait
 * on itself, so each unit runs in a scope where they throw instead (see units.ts).
 *
 * Traces are appended once per batch, after its units: the chain head is read (and on
 * PostgreSQL locked) and moved once, not once a trace, and only for units that succeeded.
 *
 * With `sync`, the next batch may commit while the previous one's sync is still under way: its
 * own sync comes after its commit, so it covers both.
 */
export class GroupCommitter {
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  /** Writes held back (their commits wait) while the log is restarted: see pause(). */
  private paused = false;
  private readonly syncing = new Set<Promise<void>>();
  /** A sync that failed: the disk may have lost what it held, so nothing more is accepted. */
  private syncFailure: unknown;
  private readonly maxBatch: number;
  /** Commits made and writes they carried, for the benchmark's batch size. */
  readonly stats = { commits: 0, writes: 0 };
  /** Told of each batch once it is durable: its writes, and the seconds from its start (the metrics). */
  onCommit: (writes: number, seconds: number) => void = () => undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: GroupCommitOptions,
  ) {
    this.maxBatch = options.maxBatch ?? 256;
  }

  write<T>(work: Write<T>): Promise<T> {
    const refused = insideUnit('store.write') ?? this.syncFailure;
    if (refused !== undefined) {
      return Promise.reject(refused);
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work: work as Write<unknown>, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /** A trace with no other change to go with it (stateless triage): appended with the next batch. */
  append(draft: TraceDraft): Promise<void> {
    const refused = insideUnit('store.append') ?? this.syncFailure;
    if (refused !== undefined) {
      return Promise.reject(refused);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ trace: draft, resolve: () => resolve(), reject });
      this.schedule();
    });
  }

  /**
   * Holds commits back until resume(): resolves once none is under way. Writes handed in
   * meanwhile wait in the queue and commit together afterwards; nothing is refused.
   */
  async pause(): Promise<void> {
    this.paused = true;
    while (this.flushing) await this.flushing;
  }

  resume(): void {
    this.paused = false;
    if (this.queue.length > 0) this.schedule();
  }

  /** Waits until every write handed in so far is durable or has failed (for a graceful close). */
  async drain(): Promise<void> {
    while (this.flushing || this.scheduled || this.queue.length > 0 || this.syncing.size > 0) {
      await (this.flushing ?? (this.syncing.size > 0 ? Promise.all(this.syncing) : new Promise((resolve) => setImmediate(resolve))));
    }
  }

  private schedule(): void {
    if (this.flushing || this.scheduled || this.paused) {
      return;
    }
    this.scheduled = true;
    // setImmediate runs after the poll phase, so requests read in the same turn join the batch.
    setImmediate(() =>
      outsideUnits(() => {
        this.scheduled = false;
        if (this.paused) {
          return; // resume() schedules again
        }
        this.flushing = this.flush().finally(() => {
          this.flushing = undefined;
          if (this.queue.length > 0) {
            this.schedule();
          }
        });
      }),
    );
  }

  private async flush(): Promise<void> {
    const batch = this.queue.splice(0, this.maxBatch);
    const started = performance.now();
    const durable = (): void => this.onCommit(batch.length, (performance.now() - started) / 1000);
    if (this.syncFailure !== undefined) {
      for (const pending of batch) pending.reject(this.syncFailure);
      return;
    }
    const outcomes: (() => void)[] = [];
    const traces: TraceDraft[] = [];
    try {
      const trx = await this.db.startTransaction().execute();
      try {
        for (const pending of batch) {
          if (!pending.work) {
            traces.push(pending.trace!);
            outcomes.push(() => pending.resolve(undefined));
            continue;
          }
          const unit = await trx.savepoint('unit').execute();
          const staged: TraceDraft[] = [];
          try {
            const value = await runUnit(() => pending.work!(unit, { append: (draft) => void staged.push(draft) }));
            await unit.releaseSavepoint('unit').execute();
            traces.push(...staged);
            outcomes.push(() => pending.resolve(value));
          } catch (err) {
            await unit.rollbackToSavepoint('unit').execute();
            await unit.releaseSavepoint('unit').execute();
            outcomes.push(() => pending.reject(err));
          }
        }
        if (traces.length > 0) {
          await this.options.appendTraces(trx, traces);
        }
        await trx.commit().execute();
        this.stats.commits += 1;
        this.stats.writes += batch.length;
      } catch (err) {
        await trx
          .rollback()
          .execute()
          .catch(() => undefined);
        throw err;
      }
    } catch (err) {
      // The shared transaction itself failed (the disk, the connection): nothing in it is stored.
      for (const pending of batch) pending.reject(err);
      return;
    }
    if (!this.options.sync) {
      durable();
      for (const settle of outcomes) settle();
      return;
    }
    const synced = this.options.sync().then(
      () => {
        durable();
        for (const settle of outcomes) settle();
      },
      (err: unknown) => {
        this.syncFailure ??= err;
        for (const pending of batch) pending.reject(err);
      },
    );
    this.syncing.add(synced);
    void synced.finally(() => this.syncing.delete(synced));
  }
}
