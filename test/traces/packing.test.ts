import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import t from 'tap';
import { TraceAltered } from '../../src/errors.js';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { loadScenarioFiles, scenarioAnswers } from '../../src/rulesets/scenarios.js';
import { dictionaryOf, MAX_PACKED_TEXT, pack, packingDictionary, unpack } from '../../src/traces/packing.js';
import { draftTrace, GENESIS_HASH, sealedContent, sealTrace, storedText, storedTrace, type StoredTrace } from '../../src/traces/trace.js';
import type { Answer, Patient } from '../../src/triage/answers.js';
import { Triage } from '../../src/triage/triage.js';
import { BUNDLED_RULES, REPO, sampledScenarios } from '../helpers.js';

interface Fixture {
  version: { hash: string; content: string };
  row: Omit<StoredTrace, 'packed'> & { packed: string };
  text: string;
}

/**
 * Made by the first code that packed traces (2026-12-07), and never to be made again: a trace
 * packed then must read the same for as long as it is kept, whatever the code becomes. This
 * fails if the PACKED_V1 dictionary (its skeleton, or how it is made from a version) changes.
 */
t.test('a trace packed by the first packing code reads back, byte for byte, as it was sealed', async (t) => {
  const fixture = JSON.parse(readFileSync(path.join(REPO, 'test/fixtures/traces/packed-v1.json'), 'utf8')) as Fixture;
  const row: StoredTrace = { ...fixture.row, packed: Buffer.from(fixture.row.packed, 'base64') };
  const dictionary = dictionaryOf(fixture.version.hash, fixture.version.content);
  t.ok(dictionary, 'the version content hashes to its name');
  t.equal(storedText(row, dictionary), fixture.text, 'the sealed text, exactly');
  t.equal(createHash('sha256').update(fixture.text).digest('hex'), row.hash, 'which is what its hash was taken over');
  // The trace above refers to only some of the dictionary's bytes: the whole of it is pinned here.
  const made = packingDictionary(fixture.version.hash, fixture.version.content);
  t.equal(createHash('sha256').update(made).digest('hex'), 'ed09b02222dbe2c13484269052dcec7657210f0fddd5dae5efae9fa94f9dcabb', 'the dictionary, every byte of it');
  t.match(sealedContent(row, dictionary), { id: row.id, seq: 1, format: 'compact-v1', result: { status: 'complete' } });
});

t.test('every step of sampled scenarios of every bundled pathway is stored packed and reads back as sealed', async (t) => {
  const catalog = await loadRuleCatalog(BUNDLED_RULES);
  const triage = new Triage(catalog.versions.values(), { timeoutMs: 10_000 });
  let text = 0;
  let packed = 0;
  for (const { pathway, scenarios } of sampledScenarios(await loadScenarioFiles(BUNDLED_RULES))) {
    const version = catalog.versions.get(pathway)!;
    const dictionary = dictionaryOf(version.hash, version.canonical);
    const wrong: string[] = [];
    for (const scenario of scenarios) {
      const all = scenarioAnswers(scenario) as Answer[];
      for (let n = 0; n <= all.length; n++) {
        const input = { version, assessmentId: null, step: n, patient: scenario.patient as Patient, answers: all.slice(0, n), startedAt: 0, durationMs: 0 };
        const draft = draftTrace({ ...input, decision: await triage.decide(version, input.patient, input.answers) });
        const row = storedTrace(draft, 7, GENESIS_HASH);
        const sealed = sealTrace(draft, 7, GENESIS_HASH);
        text += Buffer.byteLength(sealed.text);
        packed += row.packed?.length ?? Infinity;
        if (row.body !== '' || storedText(row, dictionary) !== sealed.text || row.hash !== sealed.hash) wrong.push(`${scenario.name} after ${n} answers`);
      }
    }
    t.same(wrong, [], `${pathway}: every step stored packed, its text and hash as sealed`);
  }
  t.ok(packed < text / 4, `packed ${packed} bytes against ${text} as text`);
});

t.test('a packed trace read with anything but its own version is refused as altered', async (t) => {
  const catalog = await loadRuleCatalog(BUNDLED_RULES);
  const version = catalog.versions.get('fever-child')!;
  const other = catalog.versions.get('headache')!;
  const triage = new Triage([version], { timeoutMs: 10_000 });
  const patient = { ageYears: 4, sex: 'female' } as Patient;
  const row = storedTrace(draftTrace({ version, assessmentId: null, step: null, patient, answers: [], decision: await triage.decide(version, patient, []), startedAt: 0, durationMs: 0 }), 3, GENESIS_HASH);
  const refused = (dictionary: Buffer | undefined, r: StoredTrace = row): unknown => {
    try {
      sealedContent(r, dictionary);
      return 'read';
    } catch (err) {
      return err instanceof TraceAltered ? err.finding : err;
    }
  };
  t.match(refused(dictionaryOf(other.hash, other.canonical)), /has been altered/, "another version's dictionary");
  t.match(refused(undefined), /no stored version has that content/, 'no stored version');
  t.equal(dictionaryOf(version.hash, `${version.canonical} `), dictionaryOf(version.hash, version.canonical), 'a made dictionary is kept');
  t.equal(dictionaryOf('f'.repeat(64), version.canonical), undefined, 'content that does not hash to the name gives none');
  const later = Buffer.from(row.packed!);
  later[0] = 2;
  t.match(
    refused(dictionaryOf(version.hash, version.canonical), { ...row, packed: later }),
    /cannot be unpacked \(packed in a form this version of the service cannot read \(2\)\)/,
    'a packing this code does not know',
  );
  const own = dictionaryOf(version.hash, version.canonical)!;
  t.match(refused(own, { ...row, packed: pack(Buffer.from('{"no":"id"}'), own)! }), /does not start with its id/);

  // The hash covers the text, not the bytes: bytes that unpack to the sealed text, or to a text
  // that decodes to it, must be the bytes that were packed.
  const text = unpack(row.packed!, own);
  t.match(refused(own, { ...row, packed: Buffer.concat([row.packed!, Buffer.from('{"result":"escalate"}')]) }), /cannot be unpacked \(21 bytes follow the packed content\)/, 'bytes after the packed content');
  t.match(refused(own, { ...row, packed: pack(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text]), own)! }), /does not start with its id/, 'a byte-order mark before the id');
  const invalid = Buffer.from(text);
  invalid[invalid.indexOf('"', 1) + 2] = 0xff;
  t.match(refused(own, { ...row, packed: pack(invalid, own)! }), /cannot be unpacked \(The encoded data was not valid/, 'bytes that are not UTF-8');
  t.same(refused(own), 'read', 'while the row as stored reads');
});

t.test('a trace too long to pack is stored as text, and no packed row unpacks past that length', async (t) => {
  const dictionary = Buffer.from('{"format":"compact-v1"');
  t.equal(pack(Buffer.alloc(MAX_PACKED_TEXT + 1, 0x20), dictionary), undefined, 'longer than MAX_PACKED_TEXT: not packed');
  const longest = pack(Buffer.alloc(MAX_PACKED_TEXT, 0x20), dictionary)!;
  t.equal(unpack(longest, dictionary).length, MAX_PACKED_TEXT, 'the longest packed text reads');
  // A row altered to unpack to far more (here 64 MiB from about 64 kB) is refused once past the limit.
  const bomb = Buffer.concat([Buffer.from([1]), deflateRawSync(Buffer.alloc(64 * MAX_PACKED_TEXT, 0x20), { dictionary })]);
  t.throws(() => unpack(bomb, dictionary), { code: 'ERR_BUFFER_TOO_LARGE' });
});

t.test('the dictionary is made from the version content alone, as docs/traces.md describes it', (t) => {
  const dictionary = packingDictionary('ab'.repeat(32), '{"a":{"id":"first"},"b":[{"id":"second"},{"id":"first"},{"id":"with \\"quote\\""}]}').toString('utf8');
  t.ok(dictionary.startsWith('{"format":"compact-v1",'), 'the skeleton first');
  t.ok(dictionary.endsWith(`["first",["second","hash":"${'ab'.repeat(32)}"`), 'then each id once, in order of first appearance, then the hash');
  t.equal(unpack(pack(Buffer.from('x'), Buffer.from(dictionary))!, Buffer.from(dictionary)).toString(), 'x');
  t.end();
});
