import type { Transaction } from 'kysely';
import { ageBandOf } from '../rulesets/schema.js';
import type { DecidedOutcome, FallbackCause } from '../triage/decide.js';
import type { Answer, Patient } from '../triage/answers.js';
import type { AssessmentStatus } from '../triage/decision.js';
import type { Database, Executor } from './schema.js';

export interface Assessment {
  id: string;
  pathwayId: string;
  versionHash: string;
  patient: Patient;
  answers: Answer[];
  status: AssessmentStatus;
  questionId: string | null;
  outcome: DecidedOutcome | null;
  step: number;
  createdAt: string;
  updatedAt: string;
  /** SHA-256 (hex) of the patient's assessment token. */
  tokenHash: string | null;
  /** The topic the patient picked (the pathway's own id when it has none): reports count by it. */
  topicId: string;
  /** Why the pathway's fallback decided the outcome, when it did. */
  fallbackCause: FallbackCause | null;
}

function toRow(a: Assessment) {
  return {
    id: a.id,
    pathway_id: a.pathwayId,
    version_hash: a.versionHash,
    patient: JSON.stringify(a.patient),
    answers: JSON.stringify(a.answers),
    status: a.status,
    question_id: a.questionId,
    outcome: a.outcome ? JSON.stringify(a.outcome) : null,
    step: a.step,
    created_at: a.createdAt,
    updated_at: a.updatedAt,
    token_hash: a.tokenHash,
    created_day: a.createdAt.slice(0, 10),
    topic_id: a.topicId,
    age_band: ageBandOf(a.patient.ageYears),
    outcome_kind: a.outcome?.kind ?? null,
    disposition: a.outcome?.disposition ?? null,
    fallback_cause: a.outcome ? a.fallbackCause : null,
  };
}

/** Assessments: each method runs on the executor it is given (store.read, or a unit's transaction). */
export function assessmentRepository(): AssessmentRepository {
  return {
    async insert(trx: Transaction<Database>, assessment: Assessment): Promise<void> {
      await trx.insertInto('assessments').values(toRow(assessment)).execute();
    },

    /** Saves the next step only if nobody else saved one since `expectedStep` was read. */
    async update(trx: Transaction<Database>, assessment: Assessment, expectedStep: number): Promise<boolean> {
      const { id, created_at: _created, created_day: _day, ...changes } = toRow(assessment);
      const result = await trx.updateTable('assessments').set(changes).where('id', '=', id).where('step', '=', expectedStep).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /**
     * Holds the assessment at `expectedStep` until the transaction ends (a no-op update takes
     * the row lock on PostgreSQL): false if another step was saved since it was read.
     */
    async holdStep(trx: Transaction<Database>, id: string, expectedStep: number): Promise<boolean> {
      const result = await trx
        .updateTable('assessments')
        .set((eb) => ({ step: eb.ref('step') }))
        .where('id', '=', id)
        .where('step', '=', expectedStep)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async get(db: Executor, id: string): Promise<Assessment | undefined> {
      const row = await db.selectFrom('assessments').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) {
        return undefined;
      }
      return {
        id: row.id,
        pathwayId: row.pathway_id,
        versionHash: row.version_hash,
        patient: JSON.parse(row.patient) as Patient,
        answers: JSON.parse(row.answers) as Answer[],
        status: row.status,
        questionId: row.question_id,
        outcome: row.outcome ? (JSON.parse(row.outcome) as DecidedOutcome) : null,
        step: row.step,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
        tokenHash: row.token_hash,
        topicId: row.topic_id ?? row.pathway_id,
        fallbackCause: row.fallback_cause,
      };
    },

    async people(db: Executor, ids: readonly string[]): Promise<AssessedPerson[]> {
      if (!ids.length) {
        return [];
      }
      const rows = await db.selectFrom('assessments').select(['id', 'version_hash', 'patient']).where('id', 'in', ids).execute();
      return rows.map((row) => ({ id: row.id, versionHash: row.version_hash, patient: JSON.parse(row.patient) as Patient }));
    },
  };
}

/** Who an assessment is about and the pathway version it runs: what a queue row shows beside the request. */
export interface AssessedPerson {
  id: string;
  versionHash: string;
  patient: Patient;
}

export interface AssessmentRepository {
  insert(trx: Transaction<Database>, assessment: Assessment): Promise<void>;
  /** Saves the next step only if nobody else saved one since `expectedStep` was read. */
  update(trx: Transaction<Database>, assessment: Assessment, expectedStep: number): Promise<boolean>;
  /**
   * Holds the assessment at `expectedStep` until the transaction ends (a no-op update takes
   * the row lock on PostgreSQL): false if another step was saved since it was read.
   */
  holdStep(trx: Transaction<Database>, id: string, expectedStep: number): Promise<boolean>;
  get(db: Executor, id: string): Promise<Assessment | undefined>;
  /** Several assessments' people at once (one query), for a page of the callback queue. */
  people(db: Executor, ids: readonly string[]): Promise<AssessedPerson[]>;
}
