import type { Kysely, Transaction } from 'kysely';
import type { Dialect } from './database.js';
import { ChainVerifier, sealTrace, type ChainVerdict, type TraceBody, type TraceDraft } from '../traces/trace.js';
import type { PathwayVersion } from '../rulesets/version.js';
import type { Database } from './schema.js';

type Executor = Kysely<Database> | Transaction<Database>;

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

/** Rows a statement may insert at once: SQLite allows 32,766 parameters, and a trace has 14. */
const ROWS_PER_INSERT = 500;

/**
 * Appends traces at the head of the chain, in order (the group committer calls this with every
 * trace of a batch, inside the transaction that changes the state they explain, so both are
 * durable together or neither is). Locking the head row serialises appends across instances
 * (PostgreSQL); SQLite already runs one write transaction at a time. Sequence numbers stay
 * gap-free either way.
 */
export async function appendTraces(trx: Transaction<Database>, dialect: Dialect, drafts: TraceDraft[]): Promise<void> {
  const query = trx.selectFrom('trace_chain').select(['seq', 'hash']).where('id', '=', CHAIN);
  const head = await (dialect === 'postgres' ? query.forUpdate() : query).executeTakeFirstOrThrow();
  let seq = Number(head.seq);
  let prevHash = head.hash;
  const rows = drafts.map((draft) => {
    seq += 1;
    const { text, hash } = sealTrace(draft, seq, prevHash);
    const outcome = draft.result.status === 'complete' ? draft.result.outcome : undefined;
    const row = {
      seq,
      id: draft.id,
      assessment_id: draft.assessmentId,
      step: draft.step,
      created_at: draft.at,
      pathway_id: draft.pathway.id,
      version_hash: draft.pathway.hash,
      status: draft.result.status,
      outcome_kind: outcome?.kind ?? null,
      disposition: outcome?.disposition ?? null,
      rule_id: outcome?.ruleId ?? null,
      body: text,
      hash,
      prev_hash: prevHash,
    };
    prevHash = hash;
    return row;
  });
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    await trx.insertInto('traces').values(rows.slice(i, i + ROWS_PER_INSERT)).execute();
  }
  await trx.updateTable('trace_chain').set({ seq, hash: prevHash }).where('id', '=', CHAIN).execute();
}

/** The trace repository: an append-only hash chain, plus the rule-set versions traces name. */
export function traceRepository(db: Kysely<Database>) {
  return {
    /** Stores a rule-set version the first time it serves a decision (content-addressed). */
    async rememberVersion(trx: Executor, version: PathwayVersion, at: string): Promise<void> {
      await trx
        .insertInto('rule_set_versions')
        .values({ hash: version.hash, pathway_id: version.id, version: version.version, content: version.canonical, first_used_at: at })
        .onConflict((oc) => oc.column('hash').doNothing())
        .execute();
    },

    async versionContent(hash: string): Promise<string | undefined> {
      const row = await db.selectFrom('rule_set_versions').select('content').where('hash', '=', hash).executeTakeFirst();
      return row?.content;
    },

    async get(id: string): Promise<TraceBody | undefined> {
      const row = await db.selectFrom('traces').select('body').where('id', '=', id).executeTakeFirst();
      return row ? (JSON.parse(row.body) as TraceBody) : undefined;
    },

    async forAssessment(assessmentId: string): Promise<TraceBody[]> {
      const rows = await db.selectFrom('traces').select('body').where('assessment_id', '=', assessmentId).orderBy('seq').execute();
      return rows.map((r) => JSON.parse(r.body) as TraceBody);
    },

    async list(filter: TraceFilter): Promise<TraceSummary[]> {
      let q = db
        .selectFrom('traces')
        .select(['seq', 'id', 'assessment_id', 'step', 'created_at', 'pathway_id', 'version_hash', 'status', 'outcome_kind', 'disposition', 'rule_id']);
      if (filter.pathwayId) q = q.where('pathway_id', '=', filter.pathwayId);
      if (filter.outcomeKind) q = q.where('outcome_kind', '=', filter.outcomeKind);
      if (filter.disposition) q = q.where('disposition', '=', filter.disposition);
      if (filter.ruleId) q = q.where('rule_id', '=', filter.ruleId);
      if (filter.from) q = q.where('created_at', '>=', filter.from);
      if (filter.to) q = q.where('created_at', '<', filter.to);
      if (filter.afterSeq !== undefined) q = q.where('seq', '>', filter.afterSeq);
      const rows = await q.orderBy('seq').limit(filter.limit).execute();
      return rows.map((r) => ({
        seq: Number(r.seq),
        id: r.id,
        assessmentId: r.assessment_id,
        step: r.step,
        at: r.created_at,
        pathwayId: r.pathway_id,
        versionHash: r.version_hash,
        status: r.status,
        outcomeKind: r.outcome_kind,
        disposition: r.disposition,
        ruleId: r.rule_id,
      }));
    },

    /** Streams full bodies in sequence order, a page at a time (export, impact replay). */
    async *bodies(filter: Omit<TraceFilter, 'limit' | 'afterSeq'>, pageSize = 500): AsyncGenerator<TraceBody> {
      let afterSeq = 0;
      for (;;) {
        let q = db.selectFrom('traces').select(['seq', 'body']).where('seq', '>', afterSeq);
        if (filter.pathwayId) q = q.where('pathway_id', '=', filter.pathwayId);
        if (filter.from) q = q.where('created_at', '>=', filter.from);
        if (filter.to) q = q.where('created_at', '<', filter.to);
        const rows = await q.orderBy('seq').limit(pageSize).execute();
        for (const row of rows) {
          yield JSON.parse(row.body) as TraceBody;
        }
        if (rows.length < pageSize) {
          return;
        }
        afterSeq = Number(rows[rows.length - 1]!.seq);
      }
    },

    /** Walks the whole chain and checks it against the chain head. */
    async verify(pageSize = 1000): Promise<ChainVerdict> {
      const verifier = new ChainVerifier();
      let afterSeq = 0;
      for (;;) {
        const rows = await db
          .selectFrom('traces')
          .select(['seq', 'body', 'hash', 'prev_hash'])
          .where('seq', '>', afterSeq)
          .orderBy('seq')
          .limit(pageSize)
          .execute();
        for (const row of rows) {
          if (!verifier.add({ seq: Number(row.seq), body: row.body, hash: row.hash, prevHash: row.prev_hash })) {
            return verifier.verdict();
          }
        }
        if (rows.length < pageSize) {
          break;
        }
        afterSeq = Number(rows[rows.length - 1]!.seq);
      }
      const verdict = verifier.verdict();
      const head = await db.selectFrom('trace_chain').select(['seq', 'hash']).where('id', '=', CHAIN).executeTakeFirst();
      if (verdict.ok && head && (Number(head.seq) !== (verdict.lastSeq ?? 0) || head.hash !== verdict.headHash)) {
        const missing = (verdict.lastSeq ?? 0) + 1;
        return { ok: false, verified: verdict.verified, brokenAt: missing, reason: `the chain head records ${Number(head.seq)} traces, but trace ${missing} onwards is missing` };
      }
      return verdict;
    },
  };
}

export type TraceRepository = ReturnType<typeof traceRepository>;
