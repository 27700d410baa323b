import { randomUUID } from 'node:crypto';
import { sha256 } from '../canonical.js';
import type { PathwayVersion } from '../rulesets/version.js';
import type { Answer, Patient } from '../triage/answers.js';
import type { DecidedOutcome, Decision, Evaluation } from '../triage/decide.js';
import { SOFTWARE } from '../version.js';

export const GENESIS_HASH = '0'.repeat(64);

// JSON.stringify's output is well-formed (lone surrogates come out escaped), so it round-trips.
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export type TraceResult = { status: 'complete'; outcome: DecidedOutcome } | { status: 'needs_answer'; questionId: string };

/**
 * One evaluation, as an auditor will read it years later. Contact details never enter a
 * trace; the patient context is only what the rules saw (age, sex).
 */
export interface TraceBody {
  id: string;
  seq: number;
  prevHash: string;
  assessmentId: string | null;
  step: number | null;
  at: string;
  durationMs: number;
  pathway: { id: string; version: string; hash: string };
  software: { app: string; jsonRulesEngine: string };
  patient: Patient;
  /** The answers as given, including any the evaluation then dropped. */
  answers: Answer[];
  evaluation: Evaluation;
  result: TraceResult;
}

/**
 * A trace before it takes its place in the chain: what it is indexed by, and the rest of its
 * content already serialised (it is made where the decision is, possibly a decision worker).
 */
export interface TraceDraft {
  id: string;
  assessmentId: string | null;
  step: number | null;
  at: string;
  pathway: TraceBody['pathway'];
  result: TraceResult;
  /**
   * Every member of the body but id, seq and prevHash: JSON without its braces, as UTF-8. Bytes,
   * not a string, so that a decision worker hands them over without a copy, and so that they
   * wait for their commit outside the JavaScript heap: as strings, every young-generation
   * collection copied the traces of all the requests in flight, most of them twice.
   */
  members: Uint8Array;
}

export function draftTrace(input: {
  version: PathwayVersion;
  assessmentId: string | null;
  step: number | null;
  patient: Patient;
  answers: Answer[];
  decision: Decision;
  startedAt: number;
  durationMs: number;
}): TraceDraft {
  const { decision } = input;
  const content: Omit<TraceBody, 'id' | 'seq' | 'prevHash'> = {
    assessmentId: input.assessmentId,
    step: input.step,
    at: new Date(input.startedAt).toISOString(),
    durationMs: Math.round(input.durationMs * 1000) / 1000,
    pathway: { id: input.version.id, version: input.version.version, hash: input.version.hash },
    software: { ...SOFTWARE },
    patient: input.patient,
    answers: input.answers,
    evaluation: decision.evaluation,
    result: decision.status === 'complete' ? { status: 'complete', outcome: decision.outcome } : { status: 'needs_answer', questionId: decision.question.id },
  };
  const { assessmentId, step, at, pathway, result } = content;
  // TextEncoder gives each draft a buffer of its own, as moving it needs: a slice of Buffer's
  // shared pool is not movable (Node 20 copies it instead; later versions refuse it).
  return { id: timeOrderedId(input.startedAt), assessmentId, step, at, pathway, result, members: utf8.encode(JSON.stringify(content)).subarray(1, -1) };
}

/**
 * A UUID version 7 (RFC 9562): the trace's time in milliseconds, then random bits. Trace ids are
 * indexed, and random ones put every insert on its own page of that index, each page written to
 * SQLite's log again (about a third of a trace's insert time); ids in time order fill the last
 * page. Made from randomUUID's pooled random bytes, in about 1 µs: the `uuid` package draws
 * fresh ones on each call, which took 3.5 µs an id here.
 */
function timeOrderedId(ms: number): string {
  const time = ms.toString(16).padStart(12, '0');
  // randomUUID's "4" (its version) sits at index 14; all after it is random, bar the variant.
  return `${time.slice(0, 8)}-${time.slice(8)}-7${randomUUID().slice(15)}`;
}

/**
 * A trace's place in the chain: its JSON text, as stored, and the SHA-256 of that text. The hash
 * is over the exact stored bytes, so verifying needs no re-serialisation (and no canonical key
 * order, which cost more than the rest of sealing together).
 */
export function sealTrace(draft: TraceDraft, seq: number, prevHash: string): { text: string; hash: string } {
  const text = `{"id":${JSON.stringify(draft.id)},"seq":${seq},"prevHash":${JSON.stringify(prevHash)},${fromUtf8.decode(draft.members)}}`;
  return { text, hash: sha256(text) };
}

/** A stored link of the chain as the verifier sees it. */
export interface ChainLink {
  seq: number;
  body: string;
  hash: string;
  prevHash: string;
}

export type ChainVerdict =
  | { ok: true; verified: number; lastSeq: number | null; headHash: string }
  | { ok: false; verified: number; brokenAt: number; reason: string };

/**
 * Walks links in sequence order and names the first that does not hold: an altered body,
 * a deleted row (a gap), or rows reordered or swapped (a prev-hash that does not match).
 */
export class ChainVerifier {
  private expectedSeq = 1;
  private prevHash = GENESIS_HASH;
  private verified = 0;
  private failure: { brokenAt: number; reason: string } | undefined;

  add(link: ChainLink): boolean {
    if (this.failure) {
      return false;
    }
    const fail = (reason: string): boolean => {
      this.failure = { brokenAt: link.seq === this.expectedSeq ? link.seq : this.expectedSeq, reason };
      return false;
    };
    if (link.seq !== this.expectedSeq) {
      return fail(`expected sequence number ${this.expectedSeq}, found ${link.seq}: a trace is missing or out of order`);
    }
    if (link.prevHash !== this.prevHash) {
      return fail(`trace ${link.seq} does not follow trace ${link.seq - 1}: its previous hash does not match`);
    }
    if (sha256(link.body) !== link.hash) {
      return fail(`trace ${link.seq} has been altered: its content no longer matches its hash`);
    }
    let body: TraceBody;
    try {
      body = JSON.parse(link.body) as TraceBody;
    } catch {
      return fail(`trace ${link.seq} is not valid JSON`);
    }
    if (body.seq !== link.seq || body.prevHash !== link.prevHash) {
      return fail(`trace ${link.seq} has been altered: its columns disagree with its sealed content`);
    }
    this.prevHash = link.hash;
    this.expectedSeq += 1;
    this.verified += 1;
    return true;
  }

  verdict(): ChainVerdict {
    if (this.failure) {
      return { ok: false, verified: this.verified, ...this.failure };
    }
    return { ok: true, verified: this.verified, lastSeq: this.verified ? this.expectedSeq - 1 : null, headHash: this.prevHash };
  }
}
