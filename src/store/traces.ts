import type { Transaction } from 'kysely';
import { InvalidVerifyRange } from '../errors.js';
import {
  ChainVerifier,
  expandTrace,
  GENESIS_HASH,
  sealedContent,
  STORED_TRACE_COLUMNS,
  storedTrace,
  traceColumns,
  type ChainAnchor,
  type ChainVerdict,
  type SealedTrace,
  type StoredTrace,
  type TraceBody,
  type TraceDraft,
  type VerifyRange,
} from '../traces/trace.js';
import { cachedDictionary, dictionaryOf } from '../traces/packing.js';
import type { Database, Dialect, Executor } from './schema.js';
import type { VersionLookup } from './versions.js';

const CHAIN = 'main';

export interface TraceFilter {
  pathwayId?: string;
  outcomeKind?: string;
  disposition?: string;
  ruleId?: string;
  from?: string;
  to?: string;
  /** Only traces with seq above this (the cursor). */
  afterSeq?: number;
  limit: number;
}

export interface TraceSummary {
  seq: number;
  id: string;
  assessmentId: string | null;
  step: number | null;
  at: string;
  pathwayId: string;
  versionHash: string;
  status: string;
  outcomeKind: string | null;
  disposition: string | null;
  ruleId: string | null;
}

/** What a verification is asked to cover: the whole chain unless told otherwise. */
export interface VerifyRequest {
  from?: number;
  to?: number;
  /** A point the chain reached once (`traces head`): the chain must still reach it, with that hash. */
  anchor?: ChainAnchor;
  /** Only the traces appended after the anchor. */
  sinceAnchor?: boolean;
}

export interface VerifyProgress {
  verified: number;
  lastSeq: number;
}

/** Rows a statement may insert at once: SQLite allows 32,766 parameters, and a trace has 15. */
const ROWS_PER_INSERT = 500;

/**
 * The packing dictionaries of the versions some rows name, by version hash: those not made yet
 * are made from the versions' stored content. A hash with no stored content, or content that does
 * not hash to it, has none (sealedContent then refuses the row).
 */
async function dictionariesFor(db: Executor, rows: readonly StoredTrace[]): Promise<Map<string, Buffer>> {
  const found = new Map<string, Buffer>();
  const missing = new Set<string>();
  for (const row of rows) {
    if (!row.packed || found.has(row.version_hash)) continue;
    const dictionary = cachedDictionary(row.version_hash);
    if (dictionary) found.set(row.version_hash, dictionary);
    else missing.add(row.version_hash);
  }
  if (missing.size > 0) {
    const stored = await db
      .selectFrom('rule_set_versions')
      .select(['hash', 'content'])
      .where('hash', 'in', [...missing])
      .execute();
    for (const { hash, content } of stored) {
      const dictionary = dictionaryOf(hash, content);
      if (dictionary) found.set(hash, dictionary);
    }
  }
  return found;
}

/** What gives each of these rows' sealed content, checked (see sealedContent), unpacking what is packed. */
async function sealerFor(db: Executor, rows: readonly StoredTrace[]): Promise<(row: StoredTrace) => SealedTrace> {
  const dictionaries = await dictionariesFor(db, rows);
  return (row) => sealedContent(row, dictionaries.get(row.version_hash));
}

/**
 * Appends traces at the head of the chain, in order (the group committer calls this with every
 * trace of a batch, inside the transaction that changes the state they explain, so both are
 * durable together or neither is). Locking the head row serialises appends across instances
 * (PostgreSQL); SQLite already runs one write transaction at a time. Sequence numbers stay
 * gap-free either way.
 */
export async function appendTraces(trx: Transaction<Database>, dialect: Dialect, drafts: TraceDraft[], pack: boolean): Promise<void> {
  const query = trx.selectFrom('trace_chain').select(['seq', 'hash']).where('id', '=', CHAIN);
  const head = await (dialect === 'postgres' ? query.forUpdate() : query).executeTakeFirstOrThrow();
  let seq = Number(head.seq);
  let prevHash = head.hash;
  const rows = drafts.map((draft) => {
    seq += 1;
    const row = storedTrace(draft, seq, prevHash, pack);
    prevHash = row.hash;
    return row;
  });
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    await trx
      .insertInto('traces')
      .values(rows.slice(i, i + ROWS_PER_INSERT))
      .execute();
  }
  await trx.updateTable('trace_chain').set({ seq, hash: prevHash }).where('id', '=', CHAIN).execute();
}

/**
 * The trace repository: an append-only hash chain. Each method reads through the executor it is
 * given. Traces are served as auditors read them: a compact trace (src/traces/compact.ts) with
 * what the rule-set version it names holds, found by `versions` through the same executor.
 * Without `versions` (a verification walk needs none) a compact trace cannot be served.
 */
export function traceRepository(versions?: VersionLookup): TraceRepository {
  /** A sealed trace as auditors read it: a compact one expanded from the version it names. */
  const readable = async (db: Executor, sealed: SealedTrace): Promise<TraceBody> => {
    if (!('format' in sealed)) return sealed;
    if (!versions) throw new Error('a compact trace is read with the rule-set versions it names: give traceRepository a version lookup');
    return expandTrace(sealed, await versions(db, sealed.pathway.hash));
  };
  async function* readRows(db: Executor, rows: readonly StoredTrace[]): AsyncGenerator<TraceBody> {
    const seal = await sealerFor(db, rows);
    for (const row of rows) yield await readable(db, seal(row));
  }
  return {
    async get(db: Executor, id: string): Promise<TraceBody | undefined> {
      const row = await db.selectFrom('traces').select(STORED_TRACE_COLUMNS).where('id', '=', id).executeTakeFirst();
      return row ? (await readRows(db, [row]).next()).value : undefined;
    },

    async forAssessment(db: Executor, assessmentId: string): Promise<TraceBody[]> {
      const rows = await db.selectFrom('traces').select(STORED_TRACE_COLUMNS).where('assessment_id', '=', assessmentId).orderBy('seq').execute();
      const bodies: TraceBody[] = [];
      for await (const body of readRows(db, rows)) bodies.push(body);
      return bodies;
    },

    /**
     * The filters run on the indexed columns; what is served comes from each row's sealed
     * content, and a row whose columns disagree with it is refused (TraceAltered), never served.
     */
    async list(db: Executor, filter: TraceFilter): Promise<TraceSummary[]> {
      let q = db.selectFrom('traces').select(STORED_TRACE_COLUMNS);
      if (filter.pathwayId) q = q.where('pathway_id', '=', filter.pathwayId);
      if (filter.outcomeKind) q = q.where('outcome_kind', '=', filter.outcomeKind);
      if (filter.disposition) q = q.where('disposition', '=', filter.disposition);
      if (filter.ruleId) q = q.where('rule_id', '=', filter.ruleId);
      if (filter.from) q = q.where('created_at', '>=', filter.from);
      if (filter.to) q = q.where('created_at', '<', filter.to);
      if (filter.afterSeq !== undefined) q = q.where('seq', '>', filter.afterSeq);
      const rows = await q.orderBy('seq').limit(filter.limit).execute();
      const seal = await sealerFor(db, rows);
      return rows.map((row) => {
        const body = seal(row);
        const c = traceColumns(body);
        return {
          seq: body.seq,
          id: c.id,
          assessmentId: c.assessment_id,
          step: c.step,
          at: c.created_at,
          pathwayId: c.pathway_id,
          versionHash: c.version_hash,
          status: c.status,
          outcomeKind: c.outcome_kind,
          disposition: c.disposition,
          ruleId: c.rule_id,
        };
      });
    },

    /** Streams full bodies in sequence order, a page at a time (export, impact replay). */
    async *bodies(db: Executor, filter: Omit<TraceFilter, 'limit' | 'afterSeq'>, pageSize = 500): AsyncGenerator<TraceBody> {
      let afterSeq = 0;
      for (;;) {
        let q = db.selectFrom('traces').select(STORED_TRACE_COLUMNS).where('seq', '>', afterSeq);
        if (filter.pathwayId) q = q.where('pathway_id', '=', filter.pathwayId);
        if (filter.from) q = q.where('created_at', '>=', filter.from);
        if (filter.to) q = q.where('created_at', '<', filter.to);
        const rows = await q.orderBy('seq').limit(pageSize).execute();
        yield* readRows(db, rows);
        if (rows.length < pageSize) {
          return;
        }
        afterSeq = Number(rows[rows.length - 1]!.seq);
      }
    },

    /** The chain head as recorded: the anchor an auditor keeps elsewhere (undefined while empty). */
    async head(db: Executor): Promise<ChainAnchor | undefined> {
      const head = await chainHead(db);
      return head.seq > 0 ? head : undefined;
    },

    /**
     * What a verification request covers, checked before any work starts (InvalidVerifyRange when it
     * makes no sense). The whole chain by default; from/to sequence numbers; or, with an
     * anchor, just what was appended after it. A range starting after trace 1 takes the hash
     * before it from the anchor when that is where it starts, or else trusts the stored one.
     */
    async range(db: Executor, request: VerifyRequest = {}): Promise<VerifyRange> {
      const head = await chainHead(db);
      const { anchor } = request;
      const bad = (detail: string): InvalidVerifyRange => new InvalidVerifyRange(detail);
      if (request.sinceAnchor && (!anchor || request.from !== undefined)) {
        throw bad('sinceAnchor needs an anchor (SEQ:HASH, as `traces head` prints it) and no from');
      }
      // An anchor past the head (the end cut off) leaves nothing to walk: the verdict says so.
      const from = request.sinceAnchor ? Math.min(anchor!.seq, head.seq) + 1 : (request.from ?? 1);
      const to = request.to ?? head.seq;
      if (from < 1 || from > to + 1) {
        throw bad(`from ${from} and to ${to} make no range of the chain (it holds ${head.seq} traces)`);
      }
      if (anchor && (anchor.seq < from - 1 || (request.to !== undefined && anchor.seq > to))) {
        throw bad(`the anchor at ${anchor.seq} lies outside the range ${from}..${to}, so it could not be checked`);
      }
      let startHash = GENESIS_HASH;
      if (anchor && anchor.seq === from - 1) {
        startHash = anchor.hash;
      } else if (from > 1) {
        const before = await db
          .selectFrom('traces')
          .select('hash')
          .where('seq', '=', from - 1)
          .executeTakeFirst();
        if (!before) {
          throw bad(`trace ${from - 1}, just before the range, is not stored: verify from an anchor or the whole chain`);
        }
        startHash = before.hash;
      }
      return { from, to, startHash, headHash: to === head.seq ? head.hash : undefined, anchor };
    },

    /**
     * Walks a range of the chain a page at a time, telling `onProgress` after each page and
     * giving the thread back between pages (see traces/verification.ts for running it off the
     * request thread).
     */
    async walk(db: Executor, range: VerifyRange, onProgress?: (progress: VerifyProgress) => void, pageSize = 1000): Promise<ChainVerdict> {
      const verifier = new ChainVerifier(range);
      let afterSeq = range.from - 1;
      while (afterSeq < range.to) {
        const rows = await db.selectFrom('traces').select(STORED_TRACE_COLUMNS).where('seq', '>', afterSeq).where('seq', '<=', range.to).orderBy('seq').limit(pageSize).execute();
        const dictionaries = await dictionariesFor(db, rows);
        for (const row of rows) {
          if (!verifier.add(row, dictionaries.get(row.version_hash))) {
            return verifier.verdict();
          }
        }
        onProgress?.(verifier.progress);
        if (rows.length < pageSize) {
          break;
        }
        afterSeq = Number(rows[rows.length - 1]!.seq);
        await new Promise((resolve) => setImmediate(resolve));
      }
      return verifier.verdict();
    },

    /** The whole chain, or the part a request names, in one call (the CLI, tests). */
    async verify(db: Executor, request: VerifyRequest = {}, onProgress?: (progress: VerifyProgress) => void): Promise<ChainVerdict> {
      return this.walk(db, await this.range(db, request), onProgress);
    },
  };
}

async function chainHead(db: Executor): Promise<ChainAnchor> {
  const head = await db.selectFrom('trace_chain').select(['seq', 'hash']).where('id', '=', CHAIN).executeTakeFirstOrThrow();
  return { seq: Number(head.seq), hash: head.hash };
}

export interface TraceRepository {
  get(db: Executor, id: string): Promise<TraceBody | undefined>;
  forAssessment(db: Executor, assessmentId: string): Promise<TraceBody[]>;
  /**
   * The filters run on the indexed columns; what is served comes from each row's sealed
   * content, and a row whose columns disagree with it is refused (TraceAltered), never served.
   */
  list(db: Executor, filter: TraceFilter): Promise<TraceSummary[]>;
  /** Streams full bodies in sequence order, a page at a time (export, impact replay). */
  bodies(db: Executor, filter: Omit<TraceFilter, 'limit' | 'afterSeq'>, pageSize?: number): AsyncGenerator<TraceBody>;
  /** The chain head as recorded: the anchor an auditor keeps elsewhere (undefined while empty). */
  head(db: Executor): Promise<ChainAnchor | undefined>;
  /**
   * What a verification request covers, checked before any work starts (InvalidVerifyRange when it
   * makes no sense). The whole chain by default; from/to sequence numbers; or, with an
   * anchor, just what was appended after it. A range starting after trace 1 takes the hash
   * before it from the anchor when that is where it starts, or else trusts the stored one.
   */
  range(db: Executor, request?: VerifyRequest): Promise<VerifyRange>;
  /**
   * Walks a range of the chain a page at a time, telling `onProgress` after each page and
   * giving the thread back between pages (see traces/verification.ts for running it off the
   * request thread).
   */
  walk(db: Executor, range: VerifyRange, onProgress?: (progress: VerifyProgress) => void, pageSize?: number): Promise<ChainVerdict>;
  /** The whole chain, or the part a request names, in one call (the CLI, tests). */
  verify(db: Executor, request?: VerifyRequest, onProgress?: (progress: VerifyProgress) => void): Promise<ChainVerdict>;
}
