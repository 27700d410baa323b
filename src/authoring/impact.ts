import type { RuleCatalog } from '../rulesets/loader.js';
import type { PathwayVersion } from '../rulesets/version.js';
import { DomainError } from '../errors.js';
import { applicabilityProblem, applyAnswer, type Answer, type Patient } from '../triage/answers.js';
import type { DecidedOutcome, Decision } from '../triage/decide.js';
import type { AskedFor } from '../triage/settled.js';
import { compareUrgency } from '../triage/urgency.js';
import type { Triage } from '../triage/triage.js';
import type { TraceBody } from '../traces/trace.js';

export type Movement = 'same' | 'up' | 'down' | 'sideways' | 'asks_more' | 'not_applicable' | 'pathway_removed';

export interface OutcomeSummary {
  kind: string;
  disposition: string;
  ruleId: string | null;
}

/** Past assessments of one pathway that moved the same way, from one outcome to another. */
export interface Move {
  movement: Movement;
  before: OutcomeSummary;
  /** null: the candidate would not reach an outcome with the answers given (asks_more), or cannot run. */
  after: OutcomeSummary | null;
  count: number;
  /** Up to five trace ids (each an assessment's last step), to look at. */
  examples: string[];
}

export interface PathwayImpact {
  pathway: string;
  /** The candidate's version of the pathway, with the modules it includes (absent: removed). */
  candidate?: { version: string; hash: string; modules: { id: string; version: string }[] };
  /** The candidate's version differs from one the replayed decisions ran with (its own file, a module or the red flags changed). */
  changed: boolean;
  replayed: number;
  counts: Record<Movement, number>;
  /** What moved, and where to: every movement but `same`, most frequent first. */
  moves: Move[];
}

export interface SafetyFinding {
  traceId: string;
  pathway: string;
  before: OutcomeSummary;
  after: OutcomeSummary;
}

/** An assessment the candidate would not have ended: it would ask questions never answered. */
export interface MoreQuestionsFinding {
  traceId: string;
  assessmentId: string | null;
  pathway: string;
  before: OutcomeSummary;
  /** The unanswered questions the candidate needs at that point, the one it would ask first first. */
  wouldAsk: string[];
  /** The unsettled rule the first is asked for: the outcome it could still lead to. */
  askedFor?: AskedFor;
}

export interface ImpactReport {
  pathways: PathwayImpact[];
  /** Decisions that were escalate or callback and would now be self-care. */
  safetyFindings: SafetyFinding[];
  /** Assessments the candidate would have kept asking: their old outcome may have come too soon. */
  moreQuestions: MoreQuestionsFinding[];
}

const summary = (o: DecidedOutcome): OutcomeSummary => ({ kind: o.kind, disposition: o.disposition, ruleId: o.ruleId });

/** One past assessment: the last trace of it (or a stateless decision), with the answers as given. */
type Past = Pick<TraceBody, 'id' | 'assessmentId' | 'patient' | 'answers' | 'result'> & { pathway: string; hash: string };

/**
 * Walks a past assessment through a candidate as a patient would: each question the candidate
 * asks is answered with what the patient said, until an outcome or a question they never
 * answered (or one whose old answer the candidate no longer accepts).
 */
async function walk(triage: Triage, version: PathwayVersion, patient: Patient, given: Answer[]): Promise<Decision> {
  const values = new Map(given.map((a) => [a.questionId, a.value]));
  let decision = await triage.decide(version, patient, []);
  while (decision.status === 'needs_answer' && values.has(decision.question.id)) {
    const { id } = decision.question;
    let answers: Answer[];
    try {
      answers = applyAnswer(version, decision.answers, id, id, values.get(id));
    } catch (err) {
      if (err instanceof DomainError) break;
      throw err;
    }
    values.delete(id);
    decision = await triage.decide(version, patient, answers);
  }
  return decision;
}

/**
 * Replays past assessments against a candidate rule set, step by step with the answers their
 * patients gave: what would have changed for real patients had the candidate been live. Each
 * assessment counts once, by its last step; decisions made without an assessment count alone.
 */
export async function impact(traces: AsyncIterable<TraceBody>, candidate: RuleCatalog, triage: Triage): Promise<ImpactReport> {
  const byPathway = new Map<string, PathwayImpact>();
  const safetyFindings: SafetyFinding[] = [];
  const moreQuestions: MoreQuestionsFinding[] = [];
  const record = (past: Past, movement: Movement, before: OutcomeSummary, after: OutcomeSummary | null) => {
    let entry = byPathway.get(past.pathway);
    if (!entry) {
      const v = candidate.versions.get(past.pathway);
      entry = {
        pathway: past.pathway,
        ...(v ? { candidate: { version: v.version, hash: v.hash, modules: v.modules } } : {}),
        changed: false,
        replayed: 0,
        counts: { same: 0, up: 0, down: 0, sideways: 0, asks_more: 0, not_applicable: 0, pathway_removed: 0 },
        moves: [],
      };
      byPathway.set(past.pathway, entry);
    }
    if (entry.candidate?.hash !== past.hash) entry.changed = true;
    entry.replayed += 1;
    entry.counts[movement] += 1;
    if (movement === 'same') return;
    const key = JSON.stringify([movement, before, after]);
    let move = entry.moves.find((m) => JSON.stringify([m.movement, m.before, m.after]) === key);
    if (!move) entry.moves.push((move = { movement, before, after, count: 0, examples: [] }));
    move.count += 1;
    if (move.examples.length < 5) move.examples.push(past.id);
  };
  const replayOne = async (past: Past) => {
    if (past.result.status !== 'complete') return;
    const before = summary(past.result.outcome);
    const version = candidate.versions.get(past.pathway);
    if (!version) return record(past, 'pathway_removed', before, null);
    if (applicabilityProblem(version, past.patient)) return record(past, 'not_applicable', before, null);
    const decision = await walk(triage, version, past.patient, past.answers);
    if (decision.status !== 'complete') {
      const next = decision.evaluation.next;
      moreQuestions.push({
        traceId: past.id,
        assessmentId: past.assessmentId,
        pathway: past.pathway,
        before,
        wouldAsk: next?.stillNeeded ?? [decision.question.id],
        ...(next?.askedFor ? { askedFor: next.askedFor } : {}),
      });
      return record(past, 'asks_more', before, null);
    }
    const after = decision.outcome;
    const old = past.result.outcome;
    const order = compareUrgency(after, old);
    const movement: Movement = after.kind === old.kind && after.disposition === old.disposition ? 'same' : order > 0 ? 'up' : order < 0 ? 'down' : 'sideways';
    record(past, movement, before, summary(after));
    if (old.kind !== 'self_care' && after.kind === 'self_care') {
      safetyFindings.push({ traceId: past.id, pathway: past.pathway, before, after: summary(after) });
    }
  };
  // Traces come in chain order, so an assessment's last trace is its latest step.
  const assessments = new Map<string, Past>();
  for await (const trace of traces) {
    const past: Past = { id: trace.id, assessmentId: trace.assessmentId, pathway: trace.pathway.id, hash: trace.pathway.hash, patient: trace.patient, answers: trace.answers, result: trace.result };
    if (trace.assessmentId === null) await replayOne(past);
    else assessments.set(trace.assessmentId, past);
  }
  for (const past of assessments.values()) await replayOne(past);
  for (const entry of byPathway.values()) entry.moves.sort((a, b) => b.count - a.count);
  return { pathways: [...byPathway.values()].sort((a, b) => a.pathway.localeCompare(b.pathway)), safetyFindings, moreQuestions };
}
