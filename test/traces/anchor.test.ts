// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { formatAnchor } from '../../src/traces/trace.js';
import { get, rawSql, REPO, STAFF } from '../helpers.js';
import { appWithDb, traces, verifyOnline, walk } from './chain-helpers.js';

t.test('an anchor kept elsewhere shows the end of the chain cut off, which the chain alone cannot', async (t) => {
  const { app, file } = await appWithDb(t);
  await walk(app);
  await walk(app);
  const head = await traces(file, ['head']);
  t.equal(head.code, 0);
  const anchor = head.stdout.trim();
  const last = await app.store.read.selectFrom('traces').select('hash').where('seq', '=', 10).executeTakeFirstOrThrow();
  t.equal(anchor, `10:${last.hash}`, 'head prints SEQ:HASH of the last trace');
  t.match((await traces(file, ['verify', '--anchor', anchor])).stdout, /ok: 10 traces verified.*anchor 10 reached/);

  // Cut the last two traces off and move the chain head back: consistent from the inside.
  await rawSql(app, 'delete from traces where seq > 8');
  await rawSql(app, `update trace_chain set seq = 8, hash = (select hash from traces where seq = 8)`);
  t.match((await verifyOnline(app)).verdict, { ok: true, verified: 8 }, 'without an anchor the truncation passes');
  const cut = await traces(file, ['verify', '--anchor', anchor]);
  t.equal(cut.code, 1);
  t.match(cut.stdout, /BROKEN at sequence 9: the chain ends at trace 8 and no longer reaches the anchor 10:/);
  t.match((await verifyOnline(app, `?anchor=${anchor}`)).verdict, { ok: false, brokenAt: 9, reason: /no longer reaches the anchor/ });
  t.match((await verifyOnline(app, `?anchor=${anchor}&sinceAnchor=true`)).verdict, { ok: false, brokenAt: 9, reason: /no longer reaches the anchor/ }, 'nor when verifying only since it');

  // An anchor whose trace is there but holds another hash: the chain was rewritten.
  t.match((await verifyOnline(app, `?anchor=5:${'a'.repeat(64)}`)).verdict, { ok: false, brokenAt: 5, reason: /trace 5 is not the one anchored at 5:a+/ });
  t.equal((await traces(file, ['verify', '--anchor', 'nonsense'])).code, 2, 'a malformed anchor is a usage error');
  t.equal((await get(app, '/v1/traces/verify?anchor=nonsense', STAFF.clinician)).status, 400);
});

t.test('verify a range, or only what was appended since an anchor', async (t) => {
  const { app, file } = await appWithDb(t);
  await walk(app);
  const anchor = formatAnchor((await app.traces.head(app.store.read))!);
  await walk(app);
  const since = await traces(file, ['verify', '--anchor', anchor, '--since-anchor']);
  t.match(since.stdout, /ok: 5 traces verified \(traces 6 to 10\)/, 'only the five after the anchor');
  t.match(await verifyOnline(app, `?anchor=${anchor}&sinceAnchor=true`), { range: { from: 6, to: 10 }, verdict: { ok: true, verified: 5 } });
  t.match(await verifyOnline(app, '?from=3&to=6'), { range: { from: 3, to: 6 }, verdict: { ok: true, verified: 4, lastSeq: 6 } });
  // A range starting after a rewritten anchor: the anchor's hash, not the stored one, is where it starts.
  t.match((await verifyOnline(app, `?anchor=5:${'b'.repeat(64)}&sinceAnchor=true`)).verdict, { ok: false, brokenAt: 6, reason: /does not follow/ });
  t.equal((await traces(file, ['verify', '--from', '7', '--to', '3'])).code, 2, 'a backwards range is a usage error');
  t.equal((await get(app, '/v1/traces/verify?from=7&to=3', STAFF.clinician)).status, 400);
  t.equal((await get(app, '/v1/traces/verify?sinceAnchor=true', STAFF.clinician)).status, 400, 'since an anchor needs the anchor');
});

// script(1) (util-linux) gives the command a terminal; CI must have it, a newcomer gets a skip.
const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
t.test('on a terminal the command shows a progress bar', { skip: SCRIPT || process.env.CI === 'true' ? false : 'no script(1) here to give the command a terminal' }, async (t) => {
  const script = SCRIPT ?? 'script';
  const { app, file } = await appWithDb(t);
  await walk(app);
  // The installed command in a process of its own: a real terminal, not a stream that says it is one.
  const { stdout } = await promisify(execFile)(script, ['-qec', `${process.execPath} ${path.join(REPO, 'dist/src/cli/bin/traces.js')} verify`, '/dev/null'], { env: { ...process.env, DATABASE_URL: file } });
  t.match(stdout, /\rverifying \[#{30}\] 100% 5\/5/, 'a bar redrawn in place');
  t.match(stdout, /ok: 5 traces verified/);
});
