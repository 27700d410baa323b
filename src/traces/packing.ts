import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { sha256 } from '../canonical.js';

/**
 * How a compact trace's text is stored: packed, its members (all but id, seq and prevHash, which
 * are columns) deflated against a dictionary made from the rule-set version the trace names.
 * A compact trace repeats, step after step, the names its version holds (question and rule ids,
 * its hash, the modules), which a plain deflate cannot find in one short text: with them in the
 * dictionary a step of the largest pathway packs to about 330 bytes instead of 1,420 (about 720
 * with plain deflate). The hash stays the SHA-256 of the text, so packing changes how a trace is
 * stored, not what is sealed; docs/traces.md tells an auditor how to unpack one by hand.
 *
 * Never change PACKED_V1's dictionary: every trace packed with it is read with it. A better one
 * is a new first byte.
 */
export const PACKED_V1 = 1;

/** The JSON a compact trace is made of (its keys and usual values). Frozen with PACKED_V1. */
const SKELETON_V1 =
  '{"format":"compact-v1","assessmentId":null,"step":0,"at":"2026-01-01T00:00:00.000Z","durationMs":0.1,"software":{"app":"0.1.0","jsonRulesEngine":"7.3.1"},' +
  '"patient":{"ageYears":0,"sex":"female"},{"ageYears":0,"sex":"male"},"result":{"status":"needs_answer"},"next":null,' +
  '"evaluation":{"semantics":"settled-v2","counted":{},"dropped":[],"engineRuns":1,"rules":"ffffffffffffffffffffffffffffffffffffffff","askWhen":"ffffffffffffffffffff",' +
  '"next":{"questionId":"","forRule":""},"decidedBy":{"ruleId":""},"settled":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},' +
  '"result":{"status":"complete","outcome":{"kind":"self_care","disposition":"","ruleId":""}}},' +
  '"pathway":{"id":"","version":"1.0.0","hash":"","modules":[{"id":"","version":"1.0.0"}]},"answers":[["",["none"]],["",true],["",false],';

const ID = /"id":"([^"\\]*)"/g;

/**
 * The PACKED_V1 dictionary of a rule-set version, from its stored content alone: the skeleton,
 * then `["ID",` for each distinct `"id":"ID"` in the content in order of first appearance, then
 * `"hash":"HASH"`.
 */
export function packingDictionary(hash: string, content: string): Buffer {
  const ids = new Set<string>();
  for (const m of content.matchAll(ID)) ids.add(m[1]!);
  return Buffer.from(`${SKELETON_V1}${[...ids].map((id) => `["${id}",`).join('')}"hash":"${hash}"`, 'utf8');
}

/** Dictionaries by version hash: made once, as a version is (a few kilobytes each). */
const dictionaries = new Map<string, Buffer>();
const DICTIONARIES_KEPT = 1000;

/** The dictionary of the version hashed `hash`, if made already. */
export const cachedDictionary = (hash: string): Buffer | undefined => dictionaries.get(hash);

/**
 * The dictionary of the version hashed `hash`, from its stored content; undefined when that
 * content does not hash to its name (it cannot be the version the trace was packed against).
 */
export function dictionaryOf(hash: string, content: string): Buffer | undefined {
  let dictionary = dictionaries.get(hash);
  if (!dictionary) {
    if (sha256(content) !== hash) return undefined;
    dictionary = packingDictionary(hash, content);
    if (dictionaries.size >= DICTIONARIES_KEPT) dictionaries.delete(dictionaries.keys().next().value!);
    dictionaries.set(hash, dictionary);
  }
  return dictionary;
}

/**
 * The most text a packed trace holds. A compact trace is a few kilobytes; one larger than this
 * is stored as text, so that reading never inflates a row past it (an altered row cannot make
 * a read take the memory of a decompression bomb).
 */
export const MAX_PACKED_TEXT = 1024 * 1024;

/** The packed form of a compact trace's id and members; undefined when too long to pack. */
export function pack(members: Uint8Array, dictionary: Buffer): Uint8Array | undefined {
  if (members.length > MAX_PACKED_TEXT) return undefined;
  const deflated = deflateRawSync(members, { dictionary });
  // A buffer of its own, so that a decision worker can move it (see TraceDraft.members).
  const packed = new Uint8Array(deflated.length + 1);
  packed[0] = PACKED_V1;
  packed.set(deflated, 1);
  return packed;
}

/**
 * The members a packed trace holds; throws when the bytes are not a packing this code reads. The
 * hash covers the text, not these bytes, so the bytes must be exactly one deflate stream: inflate
 * ignores whatever follows its end, and anything could be written there unseen.
 */
export function unpack(packed: Uint8Array, dictionary: Buffer): Buffer {
  if (packed[0] !== PACKED_V1) throw new Error(`packed in a form this version of the service cannot read (${String(packed[0])})`);
  const deflated = packed.subarray(1);
  const { buffer, engine } = inflateRawSync(deflated, { dictionary, maxOutputLength: MAX_PACKED_TEXT, info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
  if (engine.bytesWritten !== deflated.length) throw new Error(`${deflated.length - engine.bytesWritten} bytes follow the packed content`);
  return buffer;
}
