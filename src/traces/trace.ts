import { createHash, randomUUID } from 'node:crypto';
import { sha256 } from '../canonical.js';
import { TraceAltered } from '../errors.js';
import type { TraceTable } from '../store/schema.js';
import type { PathwayVersion } from '../rulesets/version.js';
import type { Answer, Patient } from '../triage/answers.js';
import type { Decision, Evaluation } from '../triage/decide.js';
import { decisionRecord, type DecisionRecord } from '../triage/decision.js';
import { SOFTWARE } from '../software.js';
import { COMPACT_FORMAT, compactEvaluation, expandEvaluation, type CompactAnswers, type CompactEvaluation, type CompactResult } from './compact.js';
import { dictionaryOf, pack, unpack } from './packing.js';

export const GENESIS_HASH = '0'.repeat(64);

// JSON.stringify's output is well-formed (lone surrogates come out escaped), so it round-trips.
const utf8 = new TextEncoder();
// Packed text is decoded exactly: invalid UTF-8 is refused, not replaced, and a byte-order mark
// is kept (so it fails the id check), for the text hashed to be the bytes stored.
const fromUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export type TraceResult = DecisionRecord;

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
  /** The version decided with; `modules`: each module it includes and that module's version (absent when none). */
  pathway: { id: string; version: string; hash: string; modules?: { id: string; version: string }[] };
  software: { app: string; jsonRulesEngine: string };
  patient: Patient;
  /** The answers as given, including any the evaluation then dropped. */
  answers: Answer[];
  evaluation: Evaluation;
  result: TraceResult;
}

/**
 * A trace as sealed in the compact format (src/traces/compact.ts): the evaluation and result
 * without what the rule-set version it names holds. Read, it is expanded back into a TraceBody.
 */
export interface CompactTraceBody extends Omit<TraceBody, 'answers' | 'evaluation' | 'result'> {
  format: typeof COMPACT_FORMAT;
  answers: CompactAnswers;
  evaluation: CompactEvaluation;
  result: CompactResult;
}

/** A trace as its sealed text holds it: in full (the format before compact traces, naming none) or compact. */
export type SealedTrace = TraceBody | CompactTraceBody;

export const isCompact = (trace: SealedTrace): trace is CompactTraceBody => 'format' in trace && trace.format === COMPACT_FORMAT;

/**
 * A sealed trace as an auditor reads it, whatever its format: a compact one is given back what
 * its rule-set version holds (`version` must be the one it names). A full one is as it was sealed.
 */
export function expandTrace(trace: SealedTrace, version: PathwayVersion): TraceBody {
  if (!isCompact(trace)) {
    if ('format' in trace) throw new Error(`trace ${trace.id} is in a format this version of the service cannot read: ${String(trace.format)}`);
    return trace;
  }
  if (version.hash !== trace.pathway.hash) {
    throw new Error(`trace ${trace.id} names rule-set version ${trace.pathway.hash}, not ${version.hash}`);
  }
  const { format: _format, answers: _answers, evaluation: _evaluation, result: _result, ...rest } = trace;
  return { ...rest, ...expandEvaluation(version, trace) };
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
  /** As sealed: what its columns are made from. */
  result: TraceResult | CompactResult;
  /**
   * Every member of the body but id, seq and prevHash: JSON without its braces, as UTF-8. Bytes,
   * not a string, so that a decision worker hands them over without a copy, and so that they
   * wait for their commit outside the JavaScript heap: as strings, every young-generation
   * collection copied the traces of all the requests in flight, most of them twice.
   */
  members: Uint8Array;
  /**
   * A compact trace's id and members, packed against its version (src/traces/packing.ts): what
   * is stored of its text. Absent for a full trace, which is stored as text.
   */
  packed?: Uint8Array;
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
  /** `full`: the format before compact traces (the bench's baseline, and tests comparing the two). */
  format?: 'full';
}): TraceDraft {
  const { decision, version } = input;
  const result = decisionRecord(decision);
  const compact = input.format === 'full' ? undefined : compactEvaluation(version, input.patient, input.answers, decision.evaluation, result);
  const content: Omit<TraceBody, 'id' | 'seq' | 'prevHash' | 'answers' | 'evaluation' | 'result'> & Pick<SealedTrace, 'answers' | 'evaluation' | 'result'> & { format?: typeof COMPACT_FORMAT } = {
    ...(compact ? { format: COMPACT_FORMAT } : {}),
    assessmentId: input.assessmentId,
    step: input.step,
    at: new Date(input.startedAt).toISOString(),
    durationMs: Math.round(input.durationMs * 1000) / 1000,
    pathway: { id: version.id, version: version.version, hash: version.hash, ...(version.modules.length ? { modules: version.modules } : {}) },
    software: { ...SOFTWARE },
    patient: input.patient,
    // What the version cannot give back exactly is written in full, in the format before.
    ...(compact ?? { answers: input.answers, evaluation: decision.evaluation, result }),
  };
  const { assessmentId, step, at, pathway, result: sealed } = content;
  const id = timeOrderedId(input.startedAt);
  // TextEncoder gives each draft a buffer of its own, as moving it needs: a slice of Buffer's
  // shared pool is not movable (Node 20 copies it instead; later versions refuse it).
  const members = utf8.encode(JSON.stringify(content)).subarray(1, -1);
  const draft: TraceDraft = { id, assessmentId, step, at, pathway, result: sealed, members };
  const packed = compact && packDraft(id, members, version);
  return packed ? { ...draft, packed } : draft;
}

/**
 * A compact trace's packed form: its id, a comma and its members, against its version's
 * dictionary. Undefined for a version that does not hash to its name (the fail-safe of a forged
 * one is still traced, as text).
 */
export function packDraft(id: string, members: Uint8Array, version: PathwayVersion): Uint8Array | undefined {
  const dictionary = dictionaryOf(version.hash, version.canonical);
  return dictionary && pack(Buffer.concat([utf8.encode(`${JSON.stringify(id)},`), members]), dictionary);
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
  const text = `${sealedPrefix(draft.id, seq, prevHash)}${fromUtf8.decode(draft.members)}}`;
  return { text, hash: sha256(text) };
}

const sealedPrefix = (id: string, seq: number, prevHash: string): string => `{"id":${JSON.stringify(id)},"seq":${seq},"prevHash":${JSON.stringify(prevHash)},`;

/**
 * A trace's row at its place in the chain: a packed trace keeps its packed bytes and an empty
 * body, and its hash is taken over the text without making it (the same bytes: the members are
 * UTF-8 already); any other, or any with `pack` false, keeps its text.
 */
export function storedTrace(draft: TraceDraft, seq: number, prevHash: string, pack = true): StoredTrace {
  const columns = { seq, ...traceColumns(draft), prev_hash: prevHash };
  if (!draft.packed || !pack) {
    const { text, hash } = sealTrace(draft, seq, prevHash);
    return { ...columns, body: text, packed: null, hash };
  }
  const hash = createHash('sha256')
    .update(sealedPrefix(draft.id, seq, prevHash))
    .update(draft.members)
    .update('}')
    .digest('hex');
  return { ...columns, body: '', packed: Buffer.from(draft.packed.buffer, draft.packed.byteOffset, draft.packed.byteLength), hash };
}

/** The length of the JSON string that `text` starts with. */
function jsonStringLength(text: string): number {
  for (let i = 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  return -1;
}

/**
 * A stored trace's sealed text: its body, or for a packed trace the text made again from its
 * columns and what it packs (`dictionary`: that of the version its version_hash column names,
 * undefined when none is stored under that name). Throws TraceAltered when that cannot be done.
 */
export function storedText(row: StoredTrace, dictionary?: Buffer): string {
  if (!row.packed) return row.body;
  const seq = Number(row.seq);
  // Nothing covers a body beside packed content: an auditor reading the row could be misled by it.
  if (row.body !== '') throw new TraceAltered(seq, row.id, 'has been altered: it holds text beside its packed content');
  if (!dictionary) {
    throw new TraceAltered(seq, row.id, `has been altered: it names rule-set version ${row.version_hash}, and no stored version has that content, so it cannot be unpacked`);
  }
  let idAndMembers: string;
  try {
    idAndMembers = fromUtf8.decode(unpack(row.packed, dictionary));
  } catch (err) {
    throw new TraceAltered(seq, row.id, `has been altered: its packed content cannot be unpacked (${(err as Error).message})`);
  }
  const idLength = jsonStringLength(idAndMembers);
  if (!idAndMembers.startsWith('"') || idAndMembers[idLength] !== ',') {
    throw new TraceAltered(seq, row.id, 'is not a trace: its packed content does not start with its id');
  }
  return `{"id":${idAndMembers.slice(0, idLength)},"seq":${seq},"prevHash":${JSON.stringify(row.prev_hash)},${idAndMembers.slice(idLength + 1)}}`;
}

/**
 * The columns a trace is stored, filtered and found by. Each is a copy of a member of the sealed
 * content, derived here for writing and for checking: a column that disagrees with the content
 * has been edited behind the service's back.
 */
export type TraceColumns = Omit<TraceTable, 'seq' | 'body' | 'packed' | 'hash' | 'prev_hash'>;

export function traceColumns(trace: Pick<TraceBody, 'id' | 'assessmentId' | 'step' | 'at' | 'pathway'> & { result: TraceResult | CompactResult }): TraceColumns {
  const outcome = trace.result.status === 'complete' ? trace.result.outcome : undefined;
  return {
    id: trace.id,
    assessment_id: trace.assessmentId,
    step: trace.step,
    created_at: trace.at,
    pathway_id: trace.pathway.id,
    version_hash: trace.pathway.hash,
    status: trace.result.status,
    outcome_kind: outcome?.kind ?? null,
    disposition: outcome?.disposition ?? null,
    rule_id: outcome?.ruleId ?? null,
  };
}

/** A trace as stored: its columns, its sealed text, the text's hash and the hash before it. */
export type StoredTrace = TraceTable;

export const STORED_TRACE_COLUMNS = [
  'seq',
  'id',
  'assessment_id',
  'step',
  'created_at',
  'pathway_id',
  'version_hash',
  'status',
  'outcome_kind',
  'disposition',
  'rule_id',
  'body',
  'packed',
  'hash',
  'prev_hash',
] as const satisfies readonly (keyof TraceTable)[];

/**
 * The sealed content of one stored trace, once the row is checked against itself: the text
 * against its hash, and every column against the text. What this cannot see (a row rewritten
 * with a fresh hash, a row deleted) is the chain's to find; see ChainVerifier.
 */
export function sealedContent(row: StoredTrace, dictionary?: Buffer): SealedTrace {
  const seq = Number(row.seq);
  const text = storedText(row, dictionary);
  if (sha256(text) !== row.hash) {
    throw new TraceAltered(seq, row.id, 'has been altered: its content no longer matches its hash');
  }
  let body: SealedTrace;
  let sealed: Record<string, unknown>;
  try {
    body = JSON.parse(text) as SealedTrace;
    sealed = { ...traceColumns(body), seq: body.seq, prev_hash: body.prevHash };
  } catch {
    throw new TraceAltered(seq, row.id, 'is not a trace: its content is not the JSON of one');
  }
  const stored: Record<string, unknown> = { ...row, seq };
  // PostgreSQL and SQLite both give integers back as numbers here, and nulls as null.
  const edited = Object.keys(sealed).filter((column) => sealed[column] !== (stored[column] ?? null));
  if (edited.length > 0) {
    throw new TraceAltered(seq, body.id, `has been altered: its stored ${edited.join(', ')} ${edited.length > 1 ? 'disagree' : 'disagrees'} with its sealed content`);
  }
  return body;
}

/** An auditor's note of a point the chain reached: `SEQ:HASH`, as `traces head` prints it. */
export interface ChainAnchor {
  seq: number;
  hash: string;
}

export const formatAnchor = (anchor: ChainAnchor): string => `${anchor.seq}:${anchor.hash}`;

export const ANCHOR_PATTERN = /^([1-9]\d*):([0-9a-f]{64})$/;

/** Reads `SEQ:HASH`; undefined when the text is not one. */
export function parseAnchor(text: string): ChainAnchor | undefined {
  const m = ANCHOR_PATTERN.exec(text.trim());
  return m ? { seq: Number(m[1]), hash: m[2]! } : undefined;
}

/** Which part of the chain one verification walks, and from which hash. */
export interface VerifyRange {
  from: number;
  to: number;
  /** The hash trace `from` must name as its previous: genesis, an anchor's, or the stored one. */
  startHash: string;
  /** Set when `to` is the chain head: the last trace's hash must be this one. */
  headHash?: string;
  anchor?: ChainAnchor;
}

export type ChainVerdict = { ok: true; verified: number; lastSeq: number | null; headHash: string } | { ok: false; verified: number; brokenAt: number; traceId?: string; reason: string };

/**
 * Walks stored traces in sequence order and names the first that does not hold: a row edited
 * (its text, or a column against its text), a deleted row (a gap), rows reordered or swapped
 * (a previous hash that does not match), an end cut off (short of the chain head or of an
 * anchor kept elsewhere), or a chain rewritten through an anchor.
 */
export class ChainVerifier {
  private expectedSeq: number;
  private prevHash: string;
  private verified = 0;
  private failure: { brokenAt: number; traceId?: string; reason: string } | undefined;

  constructor(private readonly range: VerifyRange = { from: 1, to: Number.MAX_SAFE_INTEGER, startHash: GENESIS_HASH }) {
    this.expectedSeq = range.from;
    this.prevHash = range.startHash;
  }

  get progress(): { verified: number; lastSeq: number } {
    return { verified: this.verified, lastSeq: this.expectedSeq - 1 };
  }

  /** `dictionary`: as sealedContent takes it. */
  add(row: StoredTrace, dictionary?: Buffer): boolean {
    if (this.failure) {
      return false;
    }
    const seq = Number(row.seq);
    const fail = (reason: string, traceId: string | undefined = row.id): boolean => {
      this.failure = { brokenAt: seq === this.expectedSeq ? seq : this.expectedSeq, traceId, reason };
      return false;
    };
    if (seq !== this.expectedSeq) {
      return fail(`expected sequence number ${this.expectedSeq}, found ${seq}: a trace is missing or out of order`, undefined);
    }
    if (row.prev_hash !== this.prevHash) {
      return fail(`trace ${seq} does not follow trace ${seq - 1}: its previous hash does not match`);
    }
    try {
      sealedContent(row, dictionary);
    } catch (err) {
      if (err instanceof TraceAltered) return fail(err.finding, err.traceId);
      throw err;
    }
    const { anchor } = this.range;
    if (anchor && seq === anchor.seq && row.hash !== anchor.hash) {
      return fail(`trace ${seq} is not the one anchored at ${formatAnchor(anchor)}: the chain has been rewritten up to here`);
    }
    this.prevHash = row.hash;
    this.expectedSeq += 1;
    this.verified += 1;
    return true;
  }

  /** The verdict once every row of the range has been added. */
  verdict(): ChainVerdict {
    if (!this.failure) {
      const { to, headHash, anchor } = this.range;
      const lastSeq = this.expectedSeq - 1;
      if (lastSeq < to) {
        this.failure = { brokenAt: lastSeq + 1, reason: headHash !== undefined ? `the chain head records ${to} traces, but trace ${lastSeq + 1} onwards is missing` : `trace ${lastSeq + 1} onwards is missing` };
      } else if (headHash !== undefined && this.prevHash !== headHash) {
        this.failure = { brokenAt: lastSeq, reason: `trace ${lastSeq} is not the chain head: the head records another hash` };
      } else if (anchor && lastSeq < anchor.seq) {
        this.failure = { brokenAt: lastSeq + 1, reason: `the chain ends at trace ${lastSeq} and no longer reaches the anchor ${formatAnchor(anchor)}: traces have been removed from its end` };
      }
    }
    if (this.failure) {
      return { ok: false, verified: this.verified, ...this.failure };
    }
    return { ok: true, verified: this.verified, lastSeq: this.verified ? this.expectedSeq - 1 : null, headHash: this.prevHash };
  }
}
