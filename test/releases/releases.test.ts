// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import t from 'tap';
import { DomainError } from '../../src/errors.js';
import { problemOf } from '../../src/http/errors.js';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { openStore } from '../../src/store/store.js';
import { BASIC_RULES, freshDatabaseUrl, get, post, rawSql, STAFF, testApp, withRawDatabase } from '../helpers.js';
import { activate, adult, ADMIN, AUTHOR, KEYS_ENV, OFFICER, record, rulesWith, SELF_CARE_ANSWERS, signedOff, signOff } from './support.js';

t.test('going live, refusing unsigned and invalid releases, and rolling back', async (t) => {
  const app = await testApp(t, { rulesDir: BASIC_RULES, env: { RELEASE_REQUIRE_SIGNOFF: 'true', ...KEYS_ENV } });
  t.equal((await get(app, '/health/ready')).body.release, null, 'serving the rule files before any release');
  const v1 = await signedOff(app, rulesWith(t, 3));
  const v2 = await signedOff(app, rulesWith(t, 1));
  const unsigned = await record(app, rulesWith(t, 5));

  t.equal((await activate(app, v1.id, STAFF.clinician)).status, 403, 'only an admin activates');
  t.match((await activate(app, unsigned.id)).body, { status: 409, detail: /no clinical safety officer sign-off/ });
  t.equal((await activate(app, 'nope')).status, 404);

  t.match((await activate(app, v1.id)).body, { active: v1.id });
  t.equal((await get(app, '/health/ready')).body.release, v1.id);
  t.match((await post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: SELF_CARE_ANSWERS })).body.outcome, { kind: 'self_care' });

  t.match((await activate(app, v2.id)).body, { active: v2.id });
  t.equal((await get(app, '/v1/pathways')).body.pathways[0].versionHash, v2.pathways[0]!.hash, '/v1/pathways shows the active version');
  t.match((await post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: SELF_CARE_ANSWERS })).body.outcome, { kind: 'callback' }, 'v2 is live');

  // An invalid release (its stored content altered) is refused; v2 keeps serving.
  const broken = await signedOff(app, rulesWith(t, 7));
  await rawSql(app, `update rule_set_versions set content = replace(content, '"lessThan"', '"lessThanX"') where hash = '${broken.pathways[0]!.hash}'`);
  t.match((await activate(app, broken.id)).body, { status: 422, detail: /cannot serve/ });
  t.equal((await get(app, '/health/ready')).body.release, v2.id, 'the current release keeps serving');

  // Rolling back is activating the earlier release.
  t.match((await activate(app, v1.id)).body, { active: v1.id });
  t.match((await post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: SELF_CARE_ANSWERS })).body.outcome, { kind: 'self_care' });

  // Where sign-off is required, the unsigned rule files cannot be served again by deactivating.
  t.match((await post(app, '/v1/admin/releases/deactivate', {}, STAFF.admin)).body, { status: 409, title: 'Sign-off required', detail: /record them as a release/ });

  const list = (await get(app, '/v1/admin/releases', STAFF.auditor)).body;
  t.equal(list.active, v1.id);
  const v1Entry = list.releases.find((r: { id: string }) => r.id === v1.id);
  t.match(v1Entry, { signedOff: true, author: AUTHOR.id, approver: OFFICER.id, signedOffAt: String, hazards: ['H-05'], active: true });
  t.same(
    v1Entry.activations.map((a: { action: string; by: string }) => [a.action, a.by]),
    [
      ['activate', ADMIN.id],
      ['activate', ADMIN.id],
    ],
    'each activation is recorded, by the admin principal',
  );
  t.match(
    list.releases.find((r: { id: string }) => r.id === unsigned.id),
    { signedOff: false, approver: null, active: false, activations: [] },
  );
  t.equal((await get(app, '/v1/admin/releases', STAFF['call-handler'])).status, 403);
});

t.test('sign-off: by an authenticated clinician other than the author, recorded with their principal', async (t) => {
  const app = await testApp(t, { rulesDir: BASIC_RULES, env: KEYS_ENV });
  const release = await record(app, rulesWith(t, 3));
  t.equal(release.author, AUTHOR.id, 'the author is the principal who recorded it');

  t.equal((await signOff(app, release.id, {})).status, 401, 'no credential');
  t.match((await signOff(app, release.id, STAFF.admin)).body, { status: 403, detail: /needs clinician/ });
  t.match((await signOff(app, release.id, STAFF.clinician)).body, {
    status: 403,
    title: 'Author cannot sign off',
    detail: new RegExp(`${AUTHOR.id} recorded release ${release.id}; its sign-off must come from another clinician`),
  });
  t.equal((await signOff(app, 'nope')).status, 404);
  t.match((await get(app, '/v1/admin/releases', STAFF.auditor)).body.releases[0], { signedOff: false, approver: null }, 'refusals leave it unsigned');

  const signed = await signOff(app, release.id);
  t.match(signed.body, { id: release.id, author: AUTHOR.id, approver: OFFICER.id, signedOffAt: String });
  t.match((await signOff(app, release.id)).body, { status: 409, detail: new RegExp(`signed off by ${OFFICER.id}`) }, 'signed off once');
  t.match((await get(app, '/v1/admin/releases', STAFF.auditor)).body.releases[0], { signedOff: true, approver: OFFICER.id, signedOffAt: signed.body.signedOffAt });
});

/** A refusal from the release service as the API answers it (status, title, detail). */
const refusal = (err: unknown): unknown => (err instanceof DomainError ? problemOf(err) : err);

t.test('a pathway whose content changed without a version bump is refused, naming the file and both hashes', async (t) => {
  const app = await testApp(t, { rulesDir: BASIC_RULES });
  // The rule files served a decision: sample 1.0.0 is stored with its content.
  const served = (await post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: SELF_CARE_ANSWERS })).body;
  const servedHash = (await get(app, `/v1/traces/${served.traceId}`, STAFF.clinician)).body.pathway.hash as string;
  const edited = rulesWith(t, 1, '1.0.0');
  const editedHash = (await loadRuleCatalog(edited)).versions.get('sample')!.hash;
  const refused = await record(app, edited).catch(refusal);
  t.match(refused, {
    status: 409,
    title: 'Version not bumped',
    detail: `${path.relative(process.cwd(), path.join(edited, 'sample.yaml'))}: pathway sample version 1.0.0 changed without a version bump (recorded before as hash ${servedHash}; this content hashes to ${editedHash}): bump its version`,
  });

  // Against a release: 1.0.1 recorded, then different content as 1.0.1 again.
  const first = await record(app, rulesWith(t, 1));
  const again = rulesWith(t, 2, '1.0.1');
  t.match(await record(app, again).catch(refusal), {
    status: 409,
    detail: new RegExp(`sample\\.yaml: pathway sample version 1\\.0\\.1 .*hash ${first.pathways[0]!.hash}; this content hashes to ${(await loadRuleCatalog(again)).versions.get('sample')!.hash}`),
  });
  t.ok(await record(app, rulesWith(t, 1)), 'the same content at the same version is no change');

  // The global red flags are part of every pathway version: changed, their version must move.
  const redFlags = rulesWith(t, 1);
  const file = path.join(redFlags, 'red-flags.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('text: Any emergency?', 'text: Any emergency at all?'));
  t.match(await record(app, redFlags).catch(refusal), {
    status: 409,
    detail:
      /red-flags\.yaml: global red flags version 1\.0\.0 changed without a version bump \(pathway sample 1\.0\.1 was recorded before as hash [0-9a-f]{64}; this content hashes to [0-9a-f]{64}\): bump their version/,
  });
  writeFileSync(file, readFileSync(file, 'utf8').replace('version: 1.0.0', 'version: 1.1.0'));
  t.ok(await record(app, redFlags), 'with the red flags version bumped it records');
  t.equal((await get(app, '/v1/admin/releases', STAFF.auditor)).body.releases.length, 3, 'nothing stored for the refusals');
});

t.test('under load: every request during a switch succeeds, traced with the version it used; assessments keep theirs', async (t) => {
  const app = await testApp(t, { rulesDir: BASIC_RULES });
  const v1 = await record(app, rulesWith(t, 3));
  const v2 = await record(app, rulesWith(t, 1));
  await activate(app, v1.id);
  const inProgress = await post(app, '/v1/assessments', { pathwayId: 'sample', patient: adult });

  const send = () => post(app, '/v1/triage', { pathwayId: 'sample', patient: adult, answers: SELF_CARE_ANSWERS });
  const wave = (n: number) => Promise.all(Array.from({ length: n }, send));
  const before = await wave(40);
  const [switched, during] = await Promise.all([activate(app, v2.id), wave(40)]);
  t.equal(switched.status, 200);
  const after = await wave(40);
  const results = [...before, ...during, ...after];
  t.ok(
    results.every((r) => r.status === 200),
    'all succeeded',
  );
  const hashes = { [v1.pathways[0]!.hash]: 'self_care', [v2.pathways[0]!.hash]: 'callback' };
  let consistent = 0;
  for (const r of results) {
    const trace = (await get(app, `/v1/traces/${r.body.traceId}`, STAFF.clinician)).body;
    if (hashes[trace.pathway.hash] === r.body.outcome.kind) consistent += 1;
  }
  t.equal(consistent, results.length, 'each decision matches the version its trace names');
  const used = new Set<string>();
  for (const r of results) used.add((await get(app, `/v1/traces/${r.body.traceId}`, STAFF.clinician)).body.pathway.hash);
  t.equal(used.size, 2, 'both versions served during the switch');

  // The assessment started on v1 finishes on v1, after v2 went live.
  let step = inProgress.body;
  for (const [questionId, value] of Object.entries(SELF_CARE_ANSWERS)) {
    step = (await post(app, `/v1/assessments/${inProgress.body.id}/answers`, { questionId, value })).body;
  }
  t.match(step.outcome, { kind: 'self_care' }, 'judged by v1 to the end');
  const traces = (await get(app, `/v1/assessments/${inProgress.body.id}/traces`, STAFF.clinician)).body.traces as { pathway: { hash: string } }[];
  t.ok(
    traces.every((x) => x.pathway.hash === v1.pathways[0]!.hash),
    'every step traced with v1',
  );
});

t.test('a typed approver from before sign-off was authenticated is kept as a claim, not a sign-off', async (t) => {
  const url = await freshDatabaseUrl(t);
  const LEGACY = '0b6f1a53-5a57-4c7e-9a2a-4d1c2b7e9f10';
  // A database as it was before: the sign-off migrations undone, a release with a typed approver.
  await (await openStore(url)).close();
  await withRawDatabase(url, async (before) => {
    // Kysely applies migrations in name order only, so the ones named after them are undone too.
    await sql`delete from kysely_migration where name like '2026-12-06-rel-%' or name like '2026-12-06-tv-%' or name like '2026-12-07-rep-%' or name like '2026-12-08-trc-%'`.execute(before);
    await before.schema.alterTable('traces').dropColumn('packed').execute();
    await before.schema.dropIndex('assessments_report').execute();
    await before.schema.dropIndex('callbacks_report').execute();
    await before.schema.dropIndex('callbacks_ended').execute();
    for (const column of ['created_day', 'topic_id', 'age_band', 'outcome_kind', 'disposition', 'fallback_cause']) await before.schema.alterTable('assessments').dropColumn(column).execute();
    await before.schema.alterTable('callback_requests').dropColumn('first_attempt_at').execute();
    await before.schema.dropTable('trace_verifications').execute();
    await before.schema.alterTable('releases').dropColumn('signed_off_at').execute();
    await before.schema.alterTable('releases').dropColumn('approver_claimed').execute();
    await before.schema.alterTable('release_activations').dropColumn('action').execute();
    await sql`insert into releases (id, created_at, author, approver, summary, hazards, pathways, checks) values (${LEGACY}, '2026-11-30T00:00:00.000Z', 'Nurse Author', 'Dr Typed Name', 'old', '[]', '[]', '{}')`.execute(
      before,
    );
  });

  const app = await testApp(t, { rulesDir: BASIC_RULES, env: { DATABASE_URL: url, RELEASE_REQUIRE_SIGNOFF: 'true', ...KEYS_ENV } });
  t.match((await get(app, '/v1/admin/releases', STAFF.auditor)).body.releases, [{ id: LEGACY, author: 'Nurse Author', approver: null, approverClaimed: 'Dr Typed Name', signedOff: false }]);
  t.match((await activate(app, LEGACY)).body, { status: 409, detail: /no clinical safety officer sign-off/ });
  t.match((await signOff(app, LEGACY)).body, { approver: OFFICER.id });
});
