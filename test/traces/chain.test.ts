// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import { createHash } from 'node:crypto';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import t from 'tap';
import { packingDictionary } from '../../src/traces/packing.js';
import { get, post, STAFF, tempDir } from '../helpers.js';
import { adult, appWithDb, traces, verifyOnline, walk } from './chain-helpers.js';

t.test('every step of an assessment leaves a full trace', async (t) => {
  const { app } = await appWithDb(t);
  const { id, traceIds } = await walk(app);
  t.equal(new Set(traceIds).size, 5, 'one trace per evaluation, each id in its response');
  // Version 7 UUIDs, which begin with the trace's time: ids sort as the traces were made.
  t.ok(
    traceIds.every((x) => /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(x)),
    'trace ids are version 7 UUIDs',
  );
  const idTimes = traceIds.map((x) => parseInt(x.replace('-', '').slice(0, 12), 16));
  const ats = await Promise.all(traceIds.map(async (x) => Date.parse((await get(app, `/v1/traces/${x}`, STAFF.clinician)).body.at as string)));
  t.same(idTimes, ats, "each id's time is its trace's `at`");
  t.same(
    [...idTimes].sort((a, b) => a - b),
    idTimes,
    'in the order the steps were taken',
  );

  const last = (await get(app, `/v1/traces/${traceIds[4]}`, STAFF.clinician)).body;
  t.match(last, {
    id: traceIds[4],
    seq: 5,
    assessmentId: id,
    step: 4,
    pathway: { id: 'sample', version: '1.0.0', hash: /^[0-9a-f]{64}$/ },
    software: { app: String, jsonRulesEngine: '7.3.1' },
    patient: adult,
    answers: [
      { questionId: 'emergency', value: false },
      { questionId: 'severe', value: false },
      { questionId: 'kind', value: 'dull' },
      { questionId: 'days', value: 1 },
    ],
    evaluation: {
      facts: { ageYears: 30, sex: 'female', emergency: false, severe: false, kind: 'dull', days: 1 },
      decidedBy: { ruleId: 's-short-dull' },
    },
    result: { status: 'complete', outcome: { kind: 'self_care', ruleId: 's-short-dull' } },
  });
  t.type(last.durationMs, 'number');
  const rule = last.evaluation.rules.find((r: { ruleId: string }) => r.ruleId === 's-short-dull');
  t.same(rule.conditions, {
    all: [
      { fact: 'kind', operator: 'equal', expected: 'dull', actual: 'dull', result: true },
      { fact: 'days', operator: 'lessThan', expected: 3, actual: 1, result: true },
    ],
    result: true,
  });
  t.equal(last.evaluation.rules.length, 5, 'every rule evaluated is recorded, fired or not');

  const third = (await get(app, `/v1/traces/${traceIds[2]}`, STAFF.clinician)).body;
  t.match(third.result, { status: 'needs_answer', questionId: 'kind' });
  t.match(third.evaluation.next, { questionId: 'kind', askWhen: null });

  const all = (await get(app, `/v1/assessments/${id}/traces`, STAFF.clinician)).body.traces;
  t.same(
    all.map((x: { step: number }) => x.step),
    [0, 1, 2, 3, 4],
  );
  t.equal((await get(app, '/v1/traces/nope', STAFF.clinician)).status, 404);
  t.equal((await get(app, '/v1/assessments/nope/traces', STAFF.clinician)).status, 404);
});

t.test('stateless triage calls are traced too', async (t) => {
  const { app } = await appWithDb(t);
  const res = await post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: { emergency: true } });
  const trace = (await get(app, `/v1/traces/${res.body.traceId}`, STAFF.clinician)).body;
  t.match(trace, { assessmentId: null, step: null, result: { outcome: { ruleId: 'rf-emergency' } } });
});

t.test('listing filters by pathway, outcome kind, disposition, rule and time, with an opaque cursor', async (t) => {
  const { app } = await appWithDb(t);
  const startedAt = new Date().toISOString();
  await walk(app);
  await walk(app);
  await post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: { emergency: true } });

  const page1 = (await get(app, '/v1/traces?limit=4', STAFF.clinician)).body;
  t.equal(page1.items.length, 4);
  t.type(page1.nextCursor, 'string');
  const page2 = (await get(app, `/v1/traces?limit=4&cursor=${page1.nextCursor}`, STAFF.clinician)).body;
  const page3 = (await get(app, `/v1/traces?limit=4&cursor=${page2.nextCursor}`, STAFF.clinician)).body;
  t.same(
    [...page1.items, ...page2.items, ...page3.items].map((i: { seq: number }) => i.seq),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
  );
  t.equal(page3.nextCursor, null);

  t.equal((await get(app, '/v1/traces?outcomeKind=self_care', STAFF.clinician)).body.items.length, 2);
  t.equal((await get(app, '/v1/traces?disposition=ED-999', STAFF.clinician)).body.items.length, 1);
  t.equal((await get(app, '/v1/traces?ruleId=s-short-dull', STAFF.clinician)).body.items.length, 2);
  t.equal((await get(app, '/v1/traces?pathwayId=sample', STAFF.clinician)).body.items.length, 11);
  t.equal((await get(app, '/v1/traces?pathwayId=other', STAFF.clinician)).body.items.length, 0);
  t.equal((await get(app, `/v1/traces?from=${startedAt}`, STAFF.clinician)).body.items.length, 11);
  t.equal((await get(app, `/v1/traces?to=${startedAt}`, STAFF.clinician)).body.items.length, 0);
  t.equal((await get(app, '/v1/traces?cursor=garbage', STAFF.clinician)).status, 400);
  t.equal((await get(app, '/v1/traces?outcomeKind=maybe', STAFF.clinician)).status, 400);
  t.equal((await get(app, '/v1/traces?from=yesterday', STAFF.clinician)).status, 400);
});

t.test('a clean chain verifies with its count, over HTTP and from the command line', async (t) => {
  const { app, file } = await appWithDb(t);
  await walk(app);
  await walk(app);
  const started = await get(app, '/v1/traces/verify', STAFF.clinician);
  t.equal(started.status, 202, 'the route answers at once, with the verification to follow');
  t.match(started.body, { id: String, state: 'running', range: { from: 1, to: 10 }, progress: { total: 10 } });
  t.equal(started.headers.location, `/v1/trace-verifications/${started.body.id}`);
  const done = await verifyOnline(app);
  t.match(done, { state: 'done', progress: { verified: 10, total: 10 }, finishedAt: String, verdict: { ok: true, verified: 10, lastSeq: 10 } });
  t.equal((await get(app, '/v1/trace-verifications/nope', STAFF.clinician)).status, 404);
  const cli = await traces(file, ['verify']);
  t.equal(cli.code, 0);
  t.match(cli.stdout, /ok: 10 traces verified/);
  t.notOk(cli.stdout.includes('\r') || cli.stdout.includes('\u001b'), 'no progress bar when stdout is not a terminal');
});

t.test('an auditor can check the chain from the rows alone: each hash is SHA-256 of the sealed text', async (t) => {
  const { app } = await appWithDb(t);
  await walk(app);
  await post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: { emergency: true } });
  const rows = await app.store.read.selectFrom('traces').select(['seq', 'id', 'version_hash', 'body', 'packed', 'hash', 'prev_hash']).orderBy('seq').execute();
  const versions = new Map((await app.store.read.selectFrom('rule_set_versions').select(['hash', 'content']).execute()).map((v) => [v.hash, v.content]));
  t.equal(rows.length, 6);
  let prev = '0'.repeat(64);
  for (const row of rows) {
    // Compact traces are stored packed: by hand, as docs/traces.md tells it, the text is the row's
    // id, seq and previous hash, then what the bytes after the first inflate to against the
    // dictionary of the version the row names, made from that version's stored content.
    t.ok(row.packed, `trace ${row.seq} is stored packed`);
    t.equal(row.body, '', `trace ${row.seq} keeps no text beside it`);
    const packed = Buffer.from(row.packed!);
    t.equal(packed[0], 1, 'in the first packing');
    const unpacked = inflateRawSync(packed.subarray(1), { dictionary: packingDictionary(row.version_hash, versions.get(row.version_hash)!) }).toString('utf8');
    t.ok(unpacked.startsWith(`${JSON.stringify(row.id)},"format":"compact-v1"`), 'which holds its id, then its members');
    const text = `{"id":${JSON.stringify(row.id)},"seq":${row.seq},"prevHash":"${row.prev_hash}",${unpacked.slice(JSON.stringify(row.id).length + 1)}}`;
    t.equal(createHash('sha256').update(text).digest('hex'), row.hash, `trace ${row.seq}: the hash is of the sealed text`);
    t.equal(row.prev_hash, prev, `trace ${row.seq} names the one before it`);
    t.match(JSON.parse(text), { id: row.id, seq: Number(row.seq), prevHash: prev }, `trace ${row.seq} seals its own place in the chain`);
    t.ok(packed.length < Buffer.byteLength(text) / 3, `trace ${row.seq}: ${packed.length} bytes packed, ${Buffer.byteLength(text)} as text`);
    prev = row.hash;
  }
});

t.test('export writes NDJSON for a time range', async (t) => {
  const { app, file } = await appWithDb(t);
  await walk(app);
  const out = path.join(tempDir(t), 'traces.ndjson');
  const cli = (args: string[]) => traces(file, ['export', ...args]);
  const all = await cli([]);
  const lines = all.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { seq: number });
  t.same(
    lines.map((l) => l.seq),
    [1, 2, 3, 4, 5],
  );
  await cli(['--from', '2000-01-01T00:00:00Z', '--to', '2000-01-02T00:00:00Z', '--out', out]);
  const { readFileSync } = await import('node:fs');
  t.equal(readFileSync(out, 'utf8'), '', 'nothing in a range with no decisions');
  t.equal((await cli(['--from', 'last tuesday'])).code, 2, 'a bad date is a usage error');
});
