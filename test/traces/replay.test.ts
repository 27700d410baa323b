// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { draftTrace, sealTrace, traceColumns, type TraceBody } from '../../src/traces/trace.js';
import { givenAnswers, type Patient } from '../../src/triage/answers.js';
import { Triage } from '../../src/triage/triage.js';
import { run } from '../../src/cli/traces.js';
import { BASIC_RULES, databaseUrlOf, freshDatabaseUrl, get, post, runCli, spawnCli, STAFF, tempDir, testApp, withRawDatabase } from '../helpers.js';
import { rewriteSealedText } from './chain-helpers.js';

const adult = { ageYears: 30, sex: 'female' };

t.test('a trace replays identically on its version, even after the rule file has changed', async (t) => {
  const rules = tempDir(t);
  cpSync(BASIC_RULES, rules, { recursive: true });
  const db = await freshDatabaseUrl(t);

  // Decide on the original rules: short dull pain is self-care.
  const first = await testApp(t, { rulesDir: rules, env: { DATABASE_URL: db } });
  const decided = await post(first, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: { emergency: false, severe: false, kind: 'dull', days: 1 } });
  t.match(decided.body.outcome, { kind: 'self_care', ruleId: 's-short-dull' });
  const started = await post(first, '/v1/assessments', { pathwayId: 'sample', patient: adult });
  const oldHash = (await get(first, '/v1/pathways/sample')).body.versionHash;
  t.same((await post(first, `/v1/traces/${decided.body.traceId}/replay`, {}, STAFF.clinician)).body.identical, true);
  await first.close();

  // A clinician edits the rule: self-care now needs fewer than 1 day, and restarts the service.
  const file = path.join(rules, 'sample.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('{ fact: days, operator: lessThan, value: 3 }', '{ fact: days, operator: lessThan, value: 1 }'));
  const second = await testApp(t, { rulesDir: rules, env: { DATABASE_URL: db } });
  const newHash = (await get(second, '/v1/pathways/sample')).body.versionHash;
  t.not(newHash, oldHash, 'the edit is a new version');
  const now = await post(second, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: { emergency: false, severe: false, kind: 'dull', days: 1 } });
  t.match(now.body.outcome, { kind: 'callback', ruleId: null }, 'new decisions use the edited rules');

  const report = (await post(second, `/v1/traces/${decided.body.traceId}/replay`, {}, STAFF.clinician)).body;
  t.match(report, { identical: true, versionHash: oldHash, replayed: { status: 'complete', outcome: { kind: 'self_care', ruleId: 's-short-dull' } } });

  // The assessment started before the edit carries on with the version it started on.
  const id = started.body.id as string;
  const token = { 'x-assessment-token': started.body.token as string };
  for (const [questionId, value] of [
    ['emergency', false],
    ['severe', false],
    ['kind', 'dull'],
  ] as const) {
    await post(second, `/v1/assessments/${id}/answers`, { questionId, value }, token);
  }
  const end = await post(second, `/v1/assessments/${id}/answers`, { questionId: 'days', value: 1 }, token);
  t.match(end.body.outcome, { kind: 'self_care', ruleId: 's-short-dull' }, 'the in-progress assessment kept its version');
  t.equal((await get(second, `/v1/assessments/${id}`, token)).body.versionHash, oldHash);
  await second.close();

  // The installed command, in a process of its own.
  const cli = await spawnCli('traces', ['replay', decided.body.traceId], { env: { DATABASE_URL: db } });
  t.equal(cli.code, 0, cli.stderr);
  t.match(cli.stdout, /^identical: trace/);
});

t.test('replay reports the differences when a stored trace no longer matches', async (t) => {
  const db = await freshDatabaseUrl(t);
  const app = await testApp(t, { rulesDir: BASIC_RULES, env: { DATABASE_URL: db } });
  const decided = await post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: { emergency: false, severe: true, kind: 'dull' } });
  // Simulate a trace recorded by a faulty build: it claims a different deciding rule, sealed as
  // such (an edit after the fact is refused before replay; see tamper.test.ts).
  await withRawDatabase(db, (raw) =>
    rewriteSealedText(raw, decided.body.traceId as string, (text) => text.replaceAll('"ruleId":"s-severe"', '"ruleId":"s-left"'), { reseal: true, columns: { rule_id: 's-left' } }),
  );
  const report = (await post(app, `/v1/traces/${decided.body.traceId}/replay`, {}, STAFF.clinician)).body;
  t.equal(report.identical, false);
  t.match(report.differences.join('\n'), /result: was .*s-left.*now .*s-severe/);
  const cli = await runCli(run, ['replay', decided.body.traceId], { env: { DATABASE_URL: db } });
  t.equal(cli.code, 1);
  t.match(cli.stdout, /^DIFFERENT/);
  t.equal((await post(app, '/v1/traces/unknown/replay', {}, STAFF.clinician)).status, 404);
});

t.test('a trace made before traces named their semantics replays identically with the semantics it was made with', async (t) => {
  const db = await freshDatabaseUrl(t);
  const app = await testApp(t, { rulesDir: BASIC_RULES, env: { DATABASE_URL: db } });
  // Severe pain alone: the current semantics first ask what kind (a sharp one would mean A&E)...
  const answers = { emergency: false, severe: true };
  const now = await post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers });
  t.match(now.body, { status: 'needs_answer', question: { id: 'kind' } });
  const stored = (await get(app, `/v1/traces/${now.body.traceId}`, STAFF.clinician)).body;
  t.equal(stored.evaluation.semantics, 'settled-v2', 'a new trace names its semantics');
  t.match((await post(app, `/v1/traces/${now.body.traceId}/replay`, {}, STAFF.clinician)).body, { identical: true, semantics: 'settled-v2' });

  // ...while the original semantics decided a callback at once. Store that trace as the code before
  // this change wrote it: the same content, without a semantics field.
  const version = (await loadRuleCatalog(BASIC_RULES)).versions.get('sample')!;
  const given = givenAnswers(version, answers);
  const triage = new Triage([version], { timeoutMs: 1000 });
  const decision = await triage.decide(version, adult as Patient, given, 'first-fire-v1');
  const draft = draftTrace({ version, assessmentId: null, step: null, patient: adult as Patient, answers: given, decision, startedAt: Date.now(), durationMs: 0, format: 'full' });
  const old = JSON.parse(sealTrace(draft, stored.seq, stored.prevHash).text) as TraceBody;
  delete old.evaluation.semantics;
  const sealed = { ...old, id: stored.id };
  const body = JSON.stringify(sealed);
  // Sealed and indexed as that code stored it: reads refuse a row edited after the fact.
  const hash = createHash('sha256').update(body).digest('hex');
  await withRawDatabase(databaseUrlOf(app), (db) =>
    db
      .updateTable('traces')
      .set({ body, packed: null, hash, ...traceColumns(sealed) })
      .where('id', '=', stored.id)
      .execute(),
  );

  const report = (await post(app, `/v1/traces/${stored.id}/replay`, {}, STAFF.clinician)).body;
  t.match(report, { identical: true, semantics: 'first-fire-v1', replayed: { status: 'complete', outcome: { kind: 'callback', ruleId: 's-severe' } } });
});
