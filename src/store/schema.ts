import type { ColumnType, Kysely } from 'kysely';
import type { CallbackAction, CallbackStatus, ReviewReason } from '../callbacks/vocabulary.js';
import type { AgeBand, OutcomeKind } from '../rulesets/schema.js';
import type { FallbackCause } from '../triage/decide.js';
import type { AssessmentStatus, DecisionStatus } from '../triage/decision.js';

export type Dialect = 'sqlite' | 'postgres';

/**
 * What a repository's reads run on: store.read outside a unit of work, or the unit's own
 * transaction inside one. Writes take the unit's Transaction, which only store.write hands out.
 */
export type Executor = Kysely<Database>;

/**
 * Table shapes. JSON is stored as text and times as ISO 8601 text so that the same queries
 * serve SQLite and PostgreSQL; ISO text in UTC sorts in time order.
 */
export interface Database {
  rule_set_versions: RuleSetVersionTable;
  assessments: AssessmentTable;
  traces: TraceTable;
  trace_chain: TraceChainTable;
  callback_requests: CallbackRequestTable;
  callback_events: CallbackEventTable;
  releases: ReleaseTable;
  release_activations: ReleaseActivationTable;
  store_probe: StoreProbeTable;
  trace_verifications: TraceVerificationTable;
}

/** Readiness's probe write (Store.probe): one row, rewritten. */
export interface StoreProbeTable {
  id: string;
  at: string;
}

export interface ReleaseTable {
  id: string;
  created_at: string;
  /** The principal who recorded it (before 2026-12-06: a name typed on the command line). */
  author: string;
  /** The clinician principal who signed it off, never the author. */
  approver: string | null;
  signed_off_at: string | null;
  /** A name typed as approver before sign-off was authenticated: history, not a sign-off. */
  approver_claimed: string | null;
  summary: string;
  /** JSON: hazard-log ids this release's changes touch. */
  hazards: string;
  /** JSON: [{ id, version, hash }] */
  pathways: string;
  /** JSON: what the release command checked (lint, scenarios, coverage, impact). */
  checks: string;
}

export interface ReleaseActivationTable {
  id: string;
  release_id: string;
  at: string;
  by: string;
  /** 'deactivate': back to the rule files, ending release_id. */
  action: ColumnType<ReleaseAction, ReleaseAction | undefined, never>;
}

export type ReleaseAction = 'activate' | 'deactivate';

export interface CallbackRequestTable {
  id: string;
  assessment_id: string;
  status: CallbackStatus;
  name: string;
  phone: string;
  disposition: string;
  within: string;
  decided_at: string;
  due_at: string;
  created_at: string;
  updated_at: string;
  claimed_by: string | null;
  lease_until: string | null;
  attempts: number;
  needs_review: number;
  completion_outcome: string | null;
  completion_notes: string | null;
  completed_at: string | null;
  /** 0: escalated after the request, above every other request; 1: everything else. */
  queue_band: number;
  review_reason: ReviewReason | null;
  /** JSON (AnswersChanged): set once the patient changes an answer after asking. */
  answers_changed: string | null;
  /** The first call to the patient, answered or not (an attempt, or the completing call). */
  first_attempt_at: string | null;
}

export interface CallbackEventTable {
  id: string;
  callback_id: string;
  assessment_id: string;
  action: CallbackAction;
  handler_id: string | null;
  at: string;
  detail: string | null;
  /** Order within the request's history (timestamps can tie). */
  seq: number;
}

export interface TraceChainTable {
  id: string;
  seq: number;
  hash: string;
}

export interface RuleSetVersionTable {
  hash: string;
  pathway_id: string;
  version: string;
  content: string;
  first_used_at: string;
}

export interface AssessmentTable {
  id: string;
  pathway_id: string;
  version_hash: string;
  patient: string;
  answers: string;
  status: AssessmentStatus;
  question_id: string | null;
  outcome: string | null;
  /** Optimistic concurrency: each answer moves it on by one. */
  step: number;
  created_at: string;
  updated_at: string;
  token_hash: string | null;
  /** Report columns (docs/reports.md): set on every write from the state above. */
  /** The UTC day of created_at (YYYY-MM-DD): the outcomes report groups by it in index order. */
  created_day: string | null;
  topic_id: string | null;
  age_band: AgeBand | null;
  outcome_kind: OutcomeKind | null;
  disposition: string | null;
  fallback_cause: FallbackCause | null;
}

export interface TraceTable {
  seq: number;
  id: string;
  assessment_id: string | null;
  step: number | null;
  created_at: string;
  pathway_id: string;
  version_hash: string;
  status: DecisionStatus;
  outcome_kind: string | null;
  disposition: string | null;
  rule_id: string | null;
  /** The sealed text; empty when it is stored packed (src/traces/packing.ts). */
  body: string;
  /** A compact trace's id and members, packed; null for a trace stored as text. */
  packed: Uint8Array | null;
  hash: string;
  prev_hash: string;
}

export interface TraceVerificationTable {
  id: string;
  state: 'running' | 'done' | 'failed';
  from_seq: number;
  to_seq: number;
  /** SEQ:HASH, when the request named an anchor. */
  anchor: string | null;
  verified: number;
  started_at: string;
  updated_at: string;
  finished_at: string | null;
  /** JSON: the ChainVerdict, once done. */
  verdict: string | null;
  /** Why it could not finish (not a finding about the chain: that is the verdict). */
  error: string | null;
}
