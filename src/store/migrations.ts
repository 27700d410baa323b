import { sql, SqliteAdapter, type Kysely, type Migration } from 'kysely';

/**
 * Migrations live in code (not files found at run time) so the compiled service, the tests and
 * the container all run exactly the same list. Written in Kysely's schema builder only, so
 * each one runs on SQLite and PostgreSQL alike. Never edit a released migration; add one.
 */
export const migrations: Record<string, Migration> = {
  '2026-11-23-001-core': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('rule_set_versions')
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('pathway_id', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('content', 'text', (c) => c.notNull())
        .addColumn('first_used_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('assessments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('pathway_id', 'text', (c) => c.notNull())
        .addColumn('version_hash', 'text', (c) => c.notNull().references('rule_set_versions.hash'))
        .addColumn('patient', 'text', (c) => c.notNull())
        .addColumn('answers', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('question_id', 'text')
        .addColumn('outcome', 'text')
        .addColumn('step', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('traces')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('assessment_id', 'text', (c) => c.references('assessments.id'))
        .addColumn('step', 'integer')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('pathway_id', 'text', (c) => c.notNull())
        .addColumn('version_hash', 'text', (c) => c.notNull().references('rule_set_versions.hash'))
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('outcome_kind', 'text')
        .addColumn('disposition', 'text')
        .addColumn('rule_id', 'text')
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .execute();
      // The chain head: the last sequence number and hash, updated in the same transaction as
      // each append. It serialises appends and lets verify notice a trace deleted from the end.
      await db.schema
        .createTable('trace_chain')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('traces_assessment').on('traces').columns(['assessment_id', 'seq']).execute();
      await db.schema.createIndex('traces_created').on('traces').columns(['created_at', 'seq']).execute();
      await db.schema.createIndex('traces_pathway').on('traces').columns(['pathway_id', 'seq']).execute();
      await db.schema.createIndex('traces_rule').on('traces').columns(['rule_id', 'seq']).execute();
    },
  },
  '2026-11-23-002-callbacks': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('callback_requests')
        .addColumn('id', 'text', (c) => c.primaryKey())
        // One request per assessment: a repeated submission finds the first.
        .addColumn('assessment_id', 'text', (c) => c.notNull().unique().references('assessments.id'))
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('phone', 'text', (c) => c.notNull())
        .addColumn('disposition', 'text', (c) => c.notNull())
        .addColumn('within', 'text', (c) => c.notNull())
        .addColumn('decided_at', 'text', (c) => c.notNull())
        .addColumn('due_at', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('claimed_by', 'text')
        .addColumn('lease_until', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('needs_review', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('completion_outcome', 'text')
        .addColumn('completion_notes', 'text')
        .addColumn('completed_at', 'text')
        .execute();
      await db.schema.createIndex('callbacks_queue').on('callback_requests').columns(['status', 'due_at', 'created_at', 'id']).execute();
      await db.schema.createIndex('callbacks_lease').on('callback_requests').columns(['status', 'lease_until']).execute();

      // Every handler action, who and when: the assessment's audit history. No contact details.
      await db.schema
        .createTable('callback_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('callback_id', 'text', (c) => c.notNull().references('callback_requests.id'))
        .addColumn('assessment_id', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('handler_id', 'text')
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('detail', 'text')
        .execute();
      await db.schema.createIndex('callback_events_assessment').on('callback_events').columns(['assessment_id', 'at']).execute();
    },
  },
  '2026-11-23-003-assessment-tokens': {
    async up(db: Kysely<unknown>): Promise<void> {
      // SHA-256 of the token handed to the patient; an assessment without one cannot be opened.
      await db.schema.alterTable('assessments').addColumn('token_hash', 'text').execute();
    },
  },
  '2026-11-23-004-chain-head-row': {
    async up(db: Kysely<unknown>): Promise<void> {
      // The head row exists from the start, so concurrent first appends on several instances
      // lock it rather than racing to insert it.
      const raw = db as unknown as Kysely<{ trace_chain: { id: string; seq: number; hash: string } }>;
      const head = await raw.selectFrom('trace_chain').select('id').where('id', '=', 'main').executeTakeFirst();
      if (!head) {
        await raw
          .insertInto('trace_chain')
          .values({ id: 'main', seq: 0, hash: '0'.repeat(64) })
          .execute();
      }
    },
  },
  '2026-11-23-005-releases': {
    async up(db: Kysely<unknown>): Promise<void> {
      // A release: a set of pathway versions (content hashes, stored in rule_set_versions) with
      // who wrote it, who signed it off as clinical safety officer, and why.
      await db.schema
        .createTable('releases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('author', 'text', (c) => c.notNull())
        .addColumn('approver', 'text')
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('hazards', 'text', (c) => c.notNull())
        .addColumn('pathways', 'text', (c) => c.notNull())
        .addColumn('checks', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('release_activations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('release_id', 'text', (c) => c.notNull().references('releases.id'))
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('by', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('release_activations_at').on('release_activations').columns(['at', 'id']).execute();
    },
  },
  '2026-12-06-cb-001-requests-follow-answers': {
    async up(db: Kysely<unknown>): Promise<void> {
      // A request follows the patient's later answers: an escalation after asking puts it in
      // band 0, above every other request; the rest stay in band 1. The queue is read in
      // (band, due time) order, so the index leads with the band.
      await db.schema
        .alterTable('callback_requests')
        .addColumn('queue_band', 'integer', (c) => c.notNull().defaultTo(1))
        .execute();
      // Why a request is flagged for clinical review: 'no_answer' (three failed calls) or 'escalated'.
      await db.schema.alterTable('callback_requests').addColumn('review_reason', 'text').execute();
      // JSON: when the answers changed after the request, the decision it was asked on, the latest one.
      await db.schema.alterTable('callback_requests').addColumn('answers_changed', 'text').execute();
      await sql`update callback_requests set review_reason = 'no_answer' where needs_review = 1`.execute(db);
      await db.schema.dropIndex('callbacks_queue').execute();
      await db.schema.createIndex('callbacks_queue_band').on('callback_requests').columns(['status', 'queue_band', 'due_at', 'created_at', 'id']).execute();

      // History is ordered by a per-request sequence: two events can share a timestamp (a lease
      // expiry and the claim that found it), and random ids do not order them. Existing events
      // are numbered in the order they were listed until now.
      await db.schema
        .alterTable('callback_events')
        .addColumn('seq', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await sql`update callback_events set seq = (
        select count(*) from callback_events e
        where e.callback_id = callback_events.callback_id and (e.at < callback_events.at or (e.at = callback_events.at and e.id <= callback_events.id)))`.execute(db);
      await db.schema.createIndex('callback_events_seq').unique().on('callback_events').columns(['callback_id', 'seq']).execute();
    },
  },
  '2026-12-06-db-001-store-probe': {
    async up(db: Kysely<unknown>): Promise<void> {
      // One row readiness rewrites after a disk fault, to learn whether writes succeed again.
      await db.schema
        .createTable('store_probe')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '2026-12-06-rel-001-authenticated-sign-off': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Sign-off is now an authenticated clinician's act, recorded with that principal's id and
      // time. A name typed before that (free text, checked by nobody) is kept apart as a claim
      // and no longer counts as sign-off.
      await db.schema.alterTable('releases').addColumn('signed_off_at', 'text').execute();
      await db.schema.alterTable('releases').addColumn('approver_claimed', 'text').execute();
      const raw = db as unknown as Kysely<{ releases: { approver: string | null; approver_claimed: string | null } }>;
      await raw
        .updateTable('releases')
        .set((eb) => ({ approver_claimed: eb.ref('approver'), approver: null }))
        .execute();
    },
  },
  '2026-12-06-rel-002-deactivation': {
    async up(db: Kysely<unknown>): Promise<void> {
      // A switch back to the rule files is a row like an activation, naming the release it ended.
      await db.schema
        .alterTable('release_activations')
        .addColumn('action', 'text', (c) => c.notNull().defaultTo('activate'))
        .execute();
    },
  },
  '2026-12-06-tv-001-trace-verifications': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Verifications of the trace chain, run in the background: any instance can report on
      // one, whichever started it. A running one's updated_at is its heartbeat.
      await db.schema
        .createTable('trace_verifications')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('from_seq', 'bigint', (c) => c.notNull())
        .addColumn('to_seq', 'bigint', (c) => c.notNull())
        .addColumn('anchor', 'text')
        .addColumn('verified', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .addColumn('verdict', 'text')
        .addColumn('error', 'text')
        .execute();
    },
  },
  '2026-12-07-rep-001-report-columns': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Service reports count assessments and callback requests by these columns, never by
      // reading JSON or trace bodies: the topic and age band an assessment started with, its
      // outcome's kind and disposition, why the fallback decided (if it did), the UTC day it
      // started, and a request's first call. Rows written before this are filled in once here.
      for (const column of ['created_day', 'topic_id', 'age_band', 'outcome_kind', 'disposition', 'fallback_cause']) {
        await db.schema.alterTable('assessments').addColumn(column, 'text').execute();
      }
      await db.schema.alterTable('callback_requests').addColumn('first_attempt_at', 'text').execute();
      const raw = db as unknown as Kysely<ReportBackfill>;
      let after = '';
      for (;;) {
        const rows = await raw.selectFrom('assessments').select(['id', 'pathway_id', 'patient', 'outcome', 'created_at']).where('id', '>', after).orderBy('id').limit(500).execute();
        if (rows.length === 0) break;
        for (const row of rows) {
          const ageYears = (JSON.parse(row.patient) as { ageYears: number }).ageYears;
          const outcome = row.outcome ? (JSON.parse(row.outcome) as { kind: string; disposition: string; ruleId: string | null }) : null;
          await raw
            .updateTable('assessments')
            .set({
              created_day: row.created_at.slice(0, 10),
              // Topics were pathways until variants shared one; an engine error or timeout
              // before now is told apart from "no rule decided" only in its trace.
              topic_id: row.pathway_id,
              age_band: ageYears < 5 ? 'under5' : ageYears < 16 ? 'child' : 'adult',
              outcome_kind: outcome?.kind ?? null,
              disposition: outcome?.disposition ?? null,
              fallback_cause: outcome && outcome.ruleId === null ? 'no_rule_decided' : null,
            })
            .where('id', '=', row.id)
            .execute();
        }
        after = rows[rows.length - 1]!.id;
      }
      await sql`update callback_requests set first_attempt_at = (
        select min(e.at) from callback_events e where e.callback_id = callback_requests.id and e.action in ('attempt', 'complete'))`.execute(db);
      // Covering indexes: each report reads its range of one index and never the table. The
      // outcomes report groups by the leading columns, so it aggregates in index order, unsorted.
      await db.schema
        .createIndex('assessments_report')
        .on('assessments')
        .columns(['created_day', 'topic_id', 'age_band', 'status', 'outcome_kind', 'disposition', 'fallback_cause', 'created_at', 'updated_at', 'pathway_id'])
        .execute();
      await db.schema.createIndex('callbacks_report').on('callback_requests').columns(['created_at', 'within', 'status', 'due_at', 'first_attempt_at', 'completed_at', 'review_reason']).execute();
    },
  },
  '2026-12-07-rep-002-report-indexes': {
    async up(db: Kysely<unknown>): Promise<void> {
      // The callbacks report counts requests flagged after unanswered calls by their attempts,
      // which the first report index lacked (every row was read from the table), and the
      // waiting-through-the-day counts read requests by when their wait ended.
      await db.schema.dropIndex('callbacks_report').execute();
      await db.schema.createIndex('callbacks_report').on('callback_requests').columns(['created_at', 'within', 'status', 'due_at', 'first_attempt_at', 'completed_at', 'attempts']).execute();
      await sql`create index callbacks_ended on callback_requests (coalesce(first_attempt_at, completed_at), created_at)`.execute(db);
    },
  },
  '2026-12-08-trc-001-packed-traces': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Compact traces are stored packed (src/traces/packing.ts); the traces before keep their text.
      const bytes = db.getExecutor().adapter instanceof SqliteAdapter ? 'blob' : 'bytea';
      await db.schema.alterTable('traces').addColumn('packed', bytes).execute();
    },
  },
};

/** The columns the report backfill reads and writes, as they were when it was written. */
interface ReportBackfill {
  assessments: {
    id: string;
    pathway_id: string;
    patient: string;
    outcome: string | null;
    created_at: string;
    created_day: string | null;
    topic_id: string | null;
    age_band: string | null;
    outcome_kind: string | null;
    disposition: string | null;
    fallback_cause: string | null;
  };
}
