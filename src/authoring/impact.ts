import type { RuleCatalog } from '../rulesets/loader.js';
import { applicabilityProblem } from '../triage/answers.js';
import type { DecidedOutcome } from '../triage/decide.js';
import type { Triage } from '../triage/triage.js';
import type { TraceBody } from '../traces/trace.js';
import { compareUrgency } from '../triage/urgency.js';

export type Movement = 'same' | 'up' | 'down' | 'sideways' | 'asks_more' | 'not_applicable' | 'pathway_removed';

export interface PathwayImpact {
  pathway: string;
  replayed: number;
  counts: Record<Movement, number>;
  /** Up to five trace ids per movement, to look at. */
  examples: Partial<Record<Movement, string[]>>;
}

export interface SafetyFinding {
  traceId: string;
  pathway: string;
  before: { kind: string; disposition: string; ruleId: string | null };
  after: { kind: string; disposition: string; ruleId: string | null };
}

export interface ImpactReport {
  pathways: PathwayImpact[];
  /** Decisions that were escalate or callback and would now be self-care. */
  safetyFindings: SafetyFinding[];
}

const summary = (o: DecidedOutcome) => ({ kind: o.kind, disposition: o.disposition, ruleId: o.ruleId });

/**
 * Replays past decisions (their stored answers) against a candidate rule set: what would have
 * changed for real patients had the candidate been live.
 */
export async function impact(traces: AsyncIterable<TraceBody>, candidate: RuleCatalog, triage: Triage): Promise<ImpactReport> {
  const byPathway = new Map<string, PathwayImpact>();
  const safetyFindings: SafetyFinding[] = [];
  for await (const trace of traces) {
    if (trace.result.status !== 'complete') {
      continue;
    }
    const before = trace.result.outcome;
    const pathway = trace.pathway.id;
    let entry = byPathway.get(pathway);
    if (!entry) {
      entry = { pathway, replayed: 0, counts: { same: 0, up: 0, down: 0, sideways: 0, asks_more: 0, not_applicable: 0, pathway_removed: 0 }, examples: {} };
      byPathway.set(pathway, entry);
    }
    const record = (m: Movement) => {
      entry.replayed += 1;
      entry.counts[m] += 1;
      const list = (entry.examples[m] ??= []);
      if (list.length < 5) list.push(trace.id);
    };
    const version = candidate.versions.get(pathway);
    if (!version) {
      record('pathway_removed');
      continue;
    }
    if (applicabilityProblem(version, trace.patient)) {
      record('not_applicable');
      continue;
    }
    const decision = await triage.decide(version, trace.patient, trace.answers);
    if (decision.status !== 'complete') {
      record('asks_more');
      continue;
    }
    const after = decision.outcome;
    const order = compareUrgency(after, before);
    if (after.kind === before.kind && after.disposition === before.disposition) record('same');
    else if (order > 0) record('up');
    else if (order < 0) record('down');
    else record('sideways');
    if (before.kind !== 'self_care' && after.kind === 'self_care') {
      safetyFindings.push({ traceId: trace.id, pathway, before: summary(before), after: summary(after) });
    }
  }
  return { pathways: [...byPathway.values()].sort((a, b) => a.pathway.localeCompare(b.pathway)), safetyFindings };
}
