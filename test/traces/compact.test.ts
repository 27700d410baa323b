// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import path from 'node:path';
import t from 'tap';
import { impact } from '../../src/authoring/impact.js';
import { TraceAltered } from '../../src/errors.js';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { loadScenarioFiles, scenarioAnswers } from '../../src/rulesets/scenarios.js';
import type { PathwayVersion } from '../../src/rulesets/version.js';
import { versionRepository } from '../../src/store/versions.js';
import { draftTrace, expandTrace, GENESIS_HASH, sealTrace, type CompactTraceBody, type SealedTrace, type TraceBody } from '../../src/traces/trace.js';
import { failSafeDecision } from '../../src/triage/decide.js';
import type { Answer, Patient } from '../../src/triage/answers.js';
import { Triage } from '../../src/triage/triage.js';
import { sealedTextOf, walk } from './chain-helpers.js';
import { BASIC_RULES, BUNDLED_RULES, bundledRules, databaseUrlOf, freshDatabaseUrl, sampledScenarios, followVerification, get, post, REPO, STAFF, testApp, withRawDatabase, type TestApp } from '../helpers.js';

const catalog = await loadRuleCatalog(BUNDLED_RULES);
const scenarios = new Map((await loadScenarioFiles(BUNDLED_RULES)).map((f) => [f.pathway, f.scenarios]));

/** Every step of a pathway's longest scenario: the empty start, each answer in turn, the outcome. */
function steps(pathwayId: string): { patient: Patient; answers: Answer[] }[] {
  const longest = [...scenarios.get(pathwayId)!].sort((a, b) => b.answers.length - a.answers.length)[0]!;
  const answers = scenarioAnswers(longest) as Answer[];
  return answers.map((_, n) => ({ patient: longest.patient as Patient, answers: answers.slice(0, n + 1) })).concat([{ patient: longest.patient as Patient, answers: [] }]);
}

/** What the auditor is shown for a trace: the trace, its explanation, its replay, apart from which trace it is. */
async function auditorsView(app: TestApp, id: string): Promise<{ content: Partial<TraceBody>; explanation: unknown; replay: unknown }> {
  const trace = await get(app, `/v1/traces/${id}`, STAFF.auditor);
  const explanation = await get(app, `/v1/traces/${id}/explanation`, STAFF.auditor);
  const replay = await post(app, `/v1/traces/${id}/replay`, {}, STAFF.clinician);
  for (const r of [trace, explanation, replay]) if (r.status !== 200) throw new Error(`${id}: ${r.status} ${JSON.stringify(r.body)}`);
  const { id: _id, seq: _seq, prevHash: _prevHash, ...content } = trace.body as TraceBody;
  return { content, explanation: { ...explanation.body, traceId: undefined }, replay: { ...replay.body, traceId: undefined } };
}

t.test('the auditor sees the same trace, explanation and replay for a compact trace as for a full one of the same decision', async (t) => {
  const pathways = ['something-else', 'poisoning-overdose', 'fever-child'];
  const app = await testApp(t, { rulesDir: bundledRules(t, pathways) });
  const at = new Date().toISOString();
  const pairs: { compact: string; full: string; what: string }[] = [];
  const stored = async (version: PathwayVersion, decision: Awaited<ReturnType<Triage['decide']>>, c: { patient: Patient; answers: Answer[] }, what: string) => {
    const input = { version, assessmentId: null, step: null, patient: c.patient, answers: c.answers, decision, startedAt: Date.now(), durationMs: 1.5 };
    const compact = draftTrace(input);
    const full = draftTrace({ ...input, format: 'full' });
    await app.store.write(async (trx, chain) => {
      await versionRepository().remember(trx, version, at);
      chain.append(compact);
      chain.append(full);
    });
    pairs.push({ compact: compact.id, full: full.id, what });
  };
  // The largest pathway, one with a module, a child's: every step of each one's longest scenario.
  for (const pathwayId of pathways) {
    const version = app.triage.pathway(pathwayId);
    for (const [i, c] of steps(pathwayId).entries()) {
      await stored(version, await app.triage.decide(version, c.patient, c.answers), c, `${pathwayId} step ${i}`);
    }
  }
  // A fail-safe: no evaluation at all, only the fallback and its cause.
  const version = app.triage.pathway('something-else');
  const [first] = steps('something-else');
  await stored(version, failSafeDecision(version, first!.answers, first!.patient, 'timeout', 'evaluation exceeded its time budget'), first!, 'a fail-safe');

  const stored_ = await withRawDatabase(databaseUrlOf(app), async (db) => {
    const rows = await db.selectFrom('traces').select(['id', 'packed']).execute();
    return new Map(await Promise.all(rows.map(async (r) => [r.id, { packed: r.packed !== null, sealed: JSON.parse(await sealedTextOf(db, r.id)) as SealedTrace & { format?: string } }] as const)));
  });
  for (const { compact, full, what } of pairs) {
    t.match(stored_.get(compact), { packed: true, sealed: { format: 'compact-v1' } }, `${what}: stored compact, packed`);
    t.match(stored_.get(full), { packed: false, sealed: { format: undefined } }, `${what}: stored in full as text, naming no format`);
    t.same(await auditorsView(app, compact), await auditorsView(app, full), `${what}: the same to the auditor`);
  }
  const verdict = await followVerification((url) => get(app, url, STAFF.auditor));
  t.match(verdict, { state: 'done', verdict: { ok: true, verified: pairs.length * 2 } }, 'both formats verify on one chain');
});

// Sampled as the other machinery suites are (TEST_THOROUGH=1: every scenario of every pathway).
t.test('every step of sampled scenarios of every bundled pathway reads back from its compact trace as the full trace has it', async (t) => {
  const triage = new Triage(catalog.versions.values(), { timeoutMs: 10_000 });
  for (const { pathway: pathwayId, scenarios: list } of sampledScenarios(await loadScenarioFiles(BUNDLED_RULES))) {
    const version = catalog.versions.get(pathwayId)!;
    let compact = 0;
    let steps = 0;
    const differ: string[] = [];
    for (const scenario of list) {
      const all = scenarioAnswers(scenario) as Answer[];
      for (let n = 0; n <= all.length; n++) {
        const answers = all.slice(0, n);
        const decision = await triage.decide(version, scenario.patient as Patient, answers);
        const input = { version, assessmentId: null, step: null, patient: scenario.patient as Patient, answers, decision, startedAt: 0, durationMs: 0 };
        const read = (format?: 'full') => JSON.parse(sealTrace(draftTrace({ ...input, ...(format ? { format } : {}) }), 1, GENESIS_HASH).text) as SealedTrace;
        const sealed = read();
        steps += 1;
        if ('format' in sealed) compact += 1;
        const { id: _a, ...expanded } = expandTrace(sealed, version);
        const { id: _b, ...full } = read('full') as TraceBody;
        if (!isDeepStrictEqual(expanded, full)) differ.push(`${scenario.name} after ${n} answers`);
      }
    }
    t.same(differ, [], `${pathwayId}: every step reads back as in full`);
    t.equal(compact, steps, `${pathwayId}: every step stored compact`);
  }
});

t.test('a decision the version cannot give back exactly is traced in full', async (t) => {
  const version = catalog.versions.get('something-else')!;
  const triage = new Triage(catalog.versions.values(), { timeoutMs: 10_000 });
  const c = steps('something-else').at(-2)!;
  const decision = await triage.decide(version, c.patient, c.answers);
  // A rule read otherwise than the version says (as if the evaluation and the version disagreed).
  const rules = decision.evaluation.rules.map((r, i) => (i === 0 ? { ...r, title: 'Not the title the version has' } : r));
  const odd = { ...decision, evaluation: { ...decision.evaluation, rules } };
  const sealed = JSON.parse(
    sealTrace(draftTrace({ version, assessmentId: null, step: null, patient: c.patient, answers: c.answers, decision: odd, startedAt: 0, durationMs: 0 }), 1, GENESIS_HASH).text,
  ) as SealedTrace;
  t.notOk('format' in sealed, 'written in the full format');
  t.equal((expandTrace(sealed, version) as TraceBody).evaluation.rules[0]!.title, 'Not the title the version has', 'and read back as written');
});

t.test('a compact trace that does not fit the version it names is refused', async (t) => {
  const version = catalog.versions.get('something-else')!;
  const triage = new Triage(catalog.versions.values(), { timeoutMs: 10_000 });
  const c = steps('something-else').at(-2)!;
  const decision = await triage.decide(version, c.patient, c.answers);
  const sealed = JSON.parse(
    sealTrace(draftTrace({ version, assessmentId: null, step: null, patient: c.patient, answers: c.answers, decision, startedAt: 0, durationMs: 0 }), 7, GENESIS_HASH).text,
  ) as CompactTraceBody;
  t.throws(() => expandTrace({ ...sealed, evaluation: { ...sealed.evaluation, rules: `${sealed.evaluation.rules}t` } }, version), TraceAltered, 'a leaf too many');
  t.throws(() => expandTrace({ ...sealed, evaluation: { ...sealed.evaluation, rules: sealed.evaluation.rules.replace(/[tf]/, 'q') } }, version), /is not t, f or u/);
  t.throws(() => expandTrace(sealed, catalog.versions.get('fever-child')!), /names rule-set version/, 'another version');
  t.throws(() => expandTrace({ ...sealed, format: 'compact-v9' } as unknown as SealedTrace, version), /cannot read: compact-v9/, 'a format this code does not know');
});

interface Fixture {
  assessmentId: string;
  assessments: Record<string, unknown>[];
  versions: { hash: string; pathway_id: string; version: string; content: string; first_used_at: string }[];
  head: { id: string; seq: number; hash: string };
  traces: { seq: number; body: string; hash: string; prev_hash: string; [column: string]: unknown }[];
  views: { id: string; trace: unknown; explanation: unknown; replay: unknown }[];
  history: unknown;
}

t.test('traces written in full before compact traces stay readable, verifiable and replayable, and impact reads both formats', async (t) => {
  const fixture = JSON.parse(readFileSync(path.join(REPO, 'test/fixtures/traces/full-format.json'), 'utf8')) as Fixture;
  // The rule files as they were when the fixture was made (commit f486b2e), so that deciding its
  // stateless steps again runs the very versions it names, whatever the bundled content is now.
  const rules = path.join(REPO, 'test/fixtures/traces/rules');
  const catalog = await loadRuleCatalog(rules);
  const app = await testApp(t, { rulesDir: rules });
  // The database as the older code left it: its versions, its chain and the chain head.
  await withRawDatabase(databaseUrlOf(app), async (db) => {
    await db
      .insertInto('rule_set_versions')
      .values(fixture.versions)
      .onConflict((oc) => oc.column('hash').doNothing())
      .execute();
    await db
      .insertInto('assessments')
      .values(fixture.assessments as never)
      .execute();
    await db
      .insertInto('traces')
      .values(fixture.traces as never)
      .execute();
    await db.updateTable('trace_chain').set({ seq: fixture.head.seq, hash: fixture.head.hash }).where('id', '=', fixture.head.id).execute();
  });
  const anchor = `${fixture.head.seq}:${fixture.head.hash}`;
  t.match(await followVerification((url) => get(app, url, STAFF.auditor), `?anchor=${anchor}`), { verdict: { ok: true, verified: fixture.traces.length } });
  for (const view of fixture.views) {
    // As it did, and more: the API now also shows the modules the trace always named (pathway.modules),
    // which the response schema of the code that wrote the fixture left out.
    t.match((await get(app, `/v1/traces/${view.id}`, STAFF.auditor)).body, view.trace, `trace ${view.id} reads as it did`);
    t.same((await get(app, `/v1/traces/${view.id}/explanation`, STAFF.auditor)).body, view.explanation, 'its explanation is unchanged');
    t.same((await post(app, `/v1/traces/${view.id}/replay`, {}, STAFF.clinician)).body, view.replay, 'its replay is unchanged');
  }
  t.same((await get(app, `/v1/assessments/${fixture.assessmentId}/history`, STAFF.auditor)).body, fixture.history, "the assessment's history is unchanged");

  const candidate = new Triage(catalog.versions.values(), { timeoutMs: 10_000 });
  const before = await impact(app.traces.bodies(app.store.read, {}), catalog, candidate);
  // The same stateless decisions again, now traced compact, on the same chain.
  const stateless = fixture.traces.map((r) => JSON.parse(r.body) as TraceBody).filter((b) => b.assessmentId === null);
  for (const b of stateless) {
    const r = await post(app, '/v1/triage', { pathwayId: b.pathway.id, patient: b.patient, answers: Object.fromEntries(b.answers.map((a) => [a.questionId, a.value])) });
    t.equal(r.status, 200);
    // Decided again, so at another time and in another time.
    const when = ({ content: { at: _at, durationMs: _ms, ...content }, ...rest }: Awaited<ReturnType<typeof auditorsView>>) => ({ content, ...rest });
    t.same(when(await auditorsView(app, r.body.traceId as string)), when(await auditorsView(app, b.id)), 'the compact trace reads as the full one did');
  }
  t.match(await followVerification((url) => get(app, url, STAFF.auditor), `?anchor=${anchor}`), { verdict: { ok: true, verified: fixture.traces.length + stateless.length } }, 'the anchor still verifies');
  const after = await impact(app.traces.bodies(app.store.read, {}), catalog, candidate);
  const replayed = (report: typeof before) => report.pathways.map((p) => ({ pathway: p.pathway, replayed: p.replayed, same: p.counts.same }));
  // Impact replays decisions that reached an outcome.
  const outcomes = stateless.filter((b) => b.result.status === 'complete').length;
  const expected = replayed(before).map((p) => (p.pathway === stateless[0]!.pathway.id ? { ...p, replayed: p.replayed + outcomes, same: p.same + outcomes } : p));
  t.same(replayed(after), expected, 'impact replays both formats alike');
  t.same(after.safetyFindings, []);
});

t.test('TRACE_STORAGE=text stores compact traces as text for a rolling upgrade; packed again after, one chain holds both', async (t) => {
  const url = await freshDatabaseUrl(t);
  const asText = await testApp(t, { rulesDir: BASIC_RULES, env: { DATABASE_URL: url, TRACE_STORAGE: 'text' } });
  const during = await walk(asText);
  await asText.close();
  const app = await testApp(t, { rulesDir: BASIC_RULES, env: { DATABASE_URL: url } });
  const after = await walk(app);
  const rows = await withRawDatabase(url, (db) => db.selectFrom('traces').select(['id', 'body', 'packed']).orderBy('seq').execute());
  t.same(
    rows.map((r) => [r.id, r.packed === null, r.packed === null ? (JSON.parse(r.body) as { format?: string }).format : r.body]),
    [...during.traceIds.map((id) => [id, true, 'compact-v1']), ...after.traceIds.map((id) => [id, false, ''])],
    'during the rollout compact text, which a release from before packing reads; then packed',
  );
  for (const id of [...during.traceIds, ...after.traceIds]) t.equal((await get(app, `/v1/traces/${id}`, STAFF.auditor)).status, 200, `trace ${id} is served`);
  t.match(await followVerification((u) => get(app, u, STAFF.auditor)), { state: 'done', verdict: { ok: true, verified: rows.length } }, 'the chain verifies across both');
});
