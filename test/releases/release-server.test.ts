import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { BASIC_RULES, STAFF, startServer, tempDir } from '../helpers.js';
import { ADMIN, ADMIN_KEY, AUTHOR_KEY, cliOn, KEYS_ENV, OFFICER_KEY, rulesWith } from './support.js';

t.test('npm start names the active release once, and how to serve the rule files again; the CLI switches it live', async (t) => {
  const dir = tempDir(t);
  const db = `sqlite:${path.join(dir, 'x.db')}`;
  const run = cliOn(db);
  const id = JSON.parse((await run(['release', rulesWith(t, 3), '--summary', 'live', '--format', 'json'], AUTHOR_KEY)).stdout).release.id as string;
  t.equal((await run(['release', 'activate', id], ADMIN_KEY)).code, 0);

  const { base, output } = await startServer(t, { DATABASE_URL: db, RULES_DIR: BASIC_RULES, ...KEYS_ENV });
  const ready = async () => ((await (await fetch(`${base}/health/ready`)).json()) as { release: string | null }).release;
  t.equal(await ready(), id);
  // Logged before listening, so it is in the output by now.
  const said = output()
    .split('\n')
    .filter((l) => l.includes('not the rule files'));
  t.equal(said.length, 1, 'said once');
  t.match(JSON.parse(said[0]!), {
    level: 40,
    release: id,
    activatedBy: ADMIN.id,
    msg: `serving release ${id} (activated ${JSON.parse(said[0]!).activatedAt} by ${ADMIN.id}), not the rule files in ${BASIC_RULES}; to serve the rule files again, an admin runs: npm run rules -- release deactivate (or POST /v1/admin/releases/deactivate); to roll back instead: npm run rules -- release activate <earlier id>`,
  });

  // The running service on this SQLite file follows what the CLI does.
  t.equal((await run(['release', 'deactivate'], ADMIN_KEY)).code, 0);
  t.equal(await poll(ready, null), null, 'serving the rule files again');
  t.equal((await run(['release', 'activate', id], ADMIN_KEY)).code, 0);
  t.equal(await poll(ready, id), id, 'and the release again');
});

/** Polls until the value is the expected one, for up to ten seconds; the last value seen. */
async function poll<T>(read: () => Promise<T>, expected: T): Promise<T> {
  let value = await read();
  for (let i = 0; i < 100 && value !== expected; i++) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}

t.test('SIGHUP activates the release named in RELEASE_ID_FILE without a restart', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'x.db');
  const idFile = path.join(dir, 'release-id');
  const { child, base } = await startServer(t, { DATABASE_URL: db, RULES_DIR: BASIC_RULES, RELEASE_ID_FILE: idFile, RELEASE_REQUIRE_SIGNOFF: 'true', ...KEYS_ENV });
  const run = cliOn(db);
  const id = JSON.parse((await run(['release', rulesWith(t, 3), '--summary', 'via SIGHUP', '--format', 'json'], AUTHOR_KEY)).stdout).release.id as string;
  t.equal((await run(['release', 'sign-off', id], OFFICER_KEY)).code, 0);
  writeFileSync(idFile, `${id}\n`);
  child.kill('SIGHUP');
  const ready = async () => ((await (await fetch(`${base}/health/ready`)).json()) as { release: string | null }).release;
  t.equal(await poll(ready, id), id, 'the running service switched to the release');
  const list = (await (await fetch(`${base}/v1/admin/releases`, { headers: STAFF.admin })).json()) as { releases: { activations: { by: string }[] }[] };
  t.same(
    list.releases[0]!.activations.map((a) => a.by),
    ['SIGHUP'],
  );
});
