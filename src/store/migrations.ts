import type { Kysely, Migration } from 'kysely';

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
};
