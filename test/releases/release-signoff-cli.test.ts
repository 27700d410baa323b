// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import path from 'node:path';
import t from 'tap';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { freshDatabaseUrl, REPO, STAFF } from '../helpers.js';
import { ADMIN, ADMIN_KEY, AUTHOR, AUTHOR_KEY, cliOn, OFFICER, OFFICER_KEY, rulesWith } from './support.js';

t.test('triage-rules release sign-off, activate, list and deactivate, each by its own credential', async (t) => {
  const db = await freshDatabaseUrl(t);
  const run = cliOn(db, { RELEASE_REQUIRE_SIGNOFF: 'true' });
  const dir = rulesWith(t, 3);
  const anonymous = await run(['release', dir, '--summary', 's']);
  t.equal(anonymous.code, 1);
  t.match(anonymous.stderr, /this needs your own staff credential: set TRIAGE_API_KEY .* \(neither is set\)/);
  t.match((await run(['release', dir, '--summary', 's'], 'not-a-real-key-0000000000')).stderr, /the key in TRIAGE_API_KEY is not one this service accepts/);
  t.match((await run(['release', dir, '--summary', 's'], STAFF.auditor['x-api-key'])).stderr, /the auditor role may not do this \(it needs clinician\)/);
  const first = JSON.parse((await run(['release', dir, '--summary', 'threshold 3', '--format', 'json'], AUTHOR_KEY)).stdout).release;
  const id = first.id as string;

  // Other content under a version already recorded: refused with the file and both hashes.
  const unbumped = rulesWith(t, 2, '1.0.3');
  const sameVersion = await run(['release', unbumped, '--summary', 'quietly changed'], AUTHOR_KEY);
  t.equal(sameVersion.code, 1);
  t.equal(
    sameVersion.stdout.trim(),
    `release refused:\n  version: ${path.relative(REPO, path.join(unbumped, 'sample.yaml'))}: pathway sample version 1.0.3 changed without a version bump (recorded before as hash ${first.pathways[0].hash}; this content hashes to ${(await loadRuleCatalog(unbumped)).versions.get('sample')!.hash}): bump its version`,
  );

  t.match((await run(['release', 'activate', id], ADMIN_KEY)).stderr, /release .* has no clinical safety officer sign-off/);
  const own = await run(['release', 'sign-off', id], AUTHOR_KEY);
  t.equal(own.code, 1);
  t.match(own.stderr, new RegExp(`${AUTHOR.id} recorded release ${id}; its sign-off must come from another clinician`));
  t.match((await run(['release', 'sign-off', id], ADMIN_KEY)).stderr, /the admin role may not do this \(it needs clinician\)/);
  const signed = await run(['release', 'sign-off', id], OFFICER_KEY);
  t.equal(signed.code, 0, signed.stderr);
  t.match(signed.stdout, new RegExp(`release ${id} signed off by ${OFFICER.id} at `));

  t.match((await run(['release', 'activate', id], OFFICER_KEY)).stderr, /the clinician role may not do this \(it needs admin\)/);
  t.equal((await run(['release', 'activate'], ADMIN_KEY)).code, 2, 'activate needs an id');
  t.equal((await run(['release', 'activate', 'nope'], ADMIN_KEY)).code, 1);
  const activated = await run(['release', 'activate', id], ADMIN_KEY);
  t.equal(activated.code, 0, activated.stderr);
  t.match(activated.stdout, new RegExp(`release ${id} is active`));

  const list = JSON.parse((await run(['release', 'list', '--format', 'json'])).stdout).releases;
  t.match(list, [{ id, author: AUTHOR.id, approver: OFFICER.id, signedOff: true, active: true, activations: [{ action: 'activate', by: ADMIN.id }] }]);
  t.match((await run(['release', 'list'])).stdout, new RegExp(`^\\* ${id} .* by ${AUTHOR.id}, signed off by ${OFFICER.id}: threshold 3\\n    activated .* by ${ADMIN.id}$`, 'm'));

  const required = await run(['release', 'deactivate'], ADMIN_KEY);
  t.equal(required.code, 1, 'where sign-off is required, deactivating is refused');
  t.match(required.stderr, /only serves signed-off releases/);
  const optional = cliOn(db);
  const deactivated = await optional(['release', 'deactivate'], ADMIN_KEY);
  t.equal(deactivated.code, 0, deactivated.stderr);
  t.match(deactivated.stdout, new RegExp(`release ${id} deactivated`));
  t.match((await optional(['release', 'deactivate'], ADMIN_KEY)).stderr, /the rule files are already being served/);
  t.match(JSON.parse((await run(['release', 'list', '--format', 'json'])).stdout).releases, [{ active: false, activations: [{ action: 'activate' }, { action: 'deactivate', by: ADMIN.id }] }]);
});
