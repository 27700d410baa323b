import path from 'node:path';
import t from 'tap';
import { BASIC_RULES, freshDatabaseUrl, startServer, tempDir, testApp } from '../helpers.js';
import { activate, ADMIN_KEY, AUTHOR_KEY, cliOn, KEYS_ENV, record, rulesWith } from './support.js';

/** An activation answered 200 is durable: committed by the group committer, its log synced (H-07). */
t.test('an activation commits through the store, durable before its 200', async (t) => {
  const app = await testApp(t, { rulesDir: BASIC_RULES, env: { DATABASE_URL: await freshDatabaseUrl(t), ...KEYS_ENV } });
  const release = await record(app, rulesWith(t, 3));
  const before = app.store.commits.writes;
  t.equal((await activate(app, release.id)).status, 200);
  t.equal(app.store.commits.writes, before + 1, 'the activation was one unit of work of the committer, whose commit is synced before anyone hears back');
});

t.test('killed right after a 200 activation, the service comes back serving that release', async (t) => {
  const db = `sqlite:${path.join(tempDir(t), 'x.db')}`;
  const env = { DATABASE_URL: db, RULES_DIR: BASIC_RULES, ...KEYS_ENV };
  const id = JSON.parse((await cliOn(db)(['release', rulesWith(t, 3), '--summary', 'killed', '--format', 'json'], AUTHOR_KEY)).stdout).release.id as string;
  const first = await startServer(t, env);
  const res = await fetch(`${first.base}/v1/admin/releases/${id}/activate`, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' }, body: '{}' });
  t.equal(res.status, 200);
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  const second = await startServer(t, env);
  const ready = (await (await fetch(`${second.base}/health/ready`)).json()) as { release: string | null };
  t.equal(ready.release, id, 'the activation survived the kill');
});
