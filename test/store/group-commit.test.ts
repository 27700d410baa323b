// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import t, { type Test } from 'tap';
import { statSync } from 'node:fs';
import { sql } from 'kysely';
import { sqlitePath } from '../../src/store/sqlite.js';
import { openStore, type Store } from '../../src/store/store.js';
import { GroupCommitter } from '../../src/store/group-commit.js';
import { appendTraces, traceRepository } from '../../src/store/traces.js';
import type { TraceDraft } from '../../src/traces/trace.js';
import { freshDatabaseUrl, ON_POSTGRES, withRawDatabase } from '../helpers.js';

/** A row in a table with no foreign keys; the primary key makes duplicates fail in the database. */
const versionRow = (hash: string) => ({ hash, pathway_id: 'p', version: '1', content: '{}', first_used_at: '2026-01-01T00:00:00.000Z' });

async function stores(t: Test): Promise<{ url: string; writer: Store; reader: Store }> {
  const url = await freshDatabaseUrl(t);
  const writer = await openStore(url);
  // A second, independent connection: it sees only what has really been committed.
  const reader = await openStore(url);
  t.teardown(async () => {
    await writer.close();
    await reader.close();
  });
  return { url, writer, reader };
}

const stored = async (store: Store, hash: string): Promise<boolean> => (await store.read.selectFrom('rule_set_versions').select('hash').where('hash', '=', hash).executeTakeFirst()) !== undefined;

t.test('writes handed in together share commits, and each is committed before its caller hears', async (t) => {
  const { writer, reader } = await stores(t);
  const visibleOnResolve: boolean[] = [];
  const writes = Array.from({ length: 200 }, (_, i) =>
    writer
      .write(async (trx) => {
        await trx
          .insertInto('rule_set_versions')
          .values(versionRow(`h${i}`))
          .execute();
        return i;
      })
      .then(async (value) => {
        visibleOnResolve.push(await stored(reader, `h${value}`));
        return value;
      }),
  );
  t.same(
    await Promise.all(writes),
    Array.from({ length: 200 }, (_, i) => i),
    'every caller gets its own result',
  );
  t.equal(visibleOnResolve.filter(Boolean).length, 200, 'another connection already sees each write when its caller is answered');
  t.equal(writer.commits.writes, 200);
  t.ok(writer.commits.commits < 20, `200 writes took ${writer.commits.commits} commits, not one each`);
});

t.test('a write that fails is undone alone; the others in its commit are kept', async (t) => {
  const { writer, reader } = await stores(t);
  await writer.write((trx) => trx.insertInto('rule_set_versions').values(versionRow('taken')).execute());
  const results = await Promise.allSettled([
    writer.write((trx) => trx.insertInto('rule_set_versions').values(versionRow('a')).execute()),
    // Half done, then an error in the code: its first insert must not survive.
    writer.write(async (trx) => {
      await trx.insertInto('rule_set_versions').values(versionRow('half')).execute();
      throw new Error('the unit failed after its first insert');
    }),
    // An error from the database itself (a duplicate key), which on PostgreSQL aborts the
    // transaction unless it is rolled back to the unit's savepoint.
    writer.write((trx) => trx.insertInto('rule_set_versions').values(versionRow('taken')).execute()),
    writer.write((trx) => trx.insertInto('rule_set_versions').values(versionRow('b')).execute()),
  ]);
  t.same(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'rejected', 'fulfilled'],
  );
  t.match((results[1] as PromiseRejectedResult).reason, { message: 'the unit failed after its first insert' });
  t.ok(await stored(reader, 'a'));
  t.ok(await stored(reader, 'b'));
  t.notOk(await stored(reader, 'half'), 'nothing of the failed unit is stored');
  const count = await reader.read
    .selectFrom('rule_set_versions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  t.equal(Number(count.n), 3);
});

t.test('closing the store waits for writes already handed in', async (t) => {
  const url = await freshDatabaseUrl(t);
  const writer = await openStore(url);
  const pending = Array.from({ length: 50 }, (_, i) =>
    writer.write((trx) =>
      trx
        .insertInto('rule_set_versions')
        .values(versionRow(`c${i}`))
        .execute(),
    ),
  );
  await writer.close();
  await Promise.all(pending);
  const reader = await openStore(url);
  t.teardown(() => reader.close());
  const count = await reader.read
    .selectFrom('rule_set_versions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  t.equal(Number(count.n), 50);
});

t.test('where the commit needs a sync of its own, no caller hears back before that sync is done', async (t) => {
  const { url, writer, reader } = await stores(t);
  // A committer of the test's own, on a connection of its own (the store lends none).
  await withRawDatabase(url, async (db) => {
    let release: () => void = () => undefined;
    let syncs = 0;
    const committer = new GroupCommitter(db, {
      appendTraces: (trx, drafts) => appendTraces(trx, writer.dialect, drafts, true),
      sync: () => {
        syncs += 1;
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    let answered = 0;
    const writes = Array.from({ length: 10 }, (_, i) =>
      committer
        .write((trx) =>
          trx
            .insertInto('rule_set_versions')
            .values(versionRow(`s${i}`))
            .execute(),
        )
        .then(() => (answered += 1)),
    );
    while (syncs === 0) await new Promise((resolve) => setImmediate(resolve));
    t.ok(await stored(reader, 's9'), 'committed');
    t.equal(answered, 0, 'but nobody is answered while the sync is under way');
    release();
    await Promise.all(writes);
    t.equal(answered, 10, 'all answered once it is done');
    t.equal(syncs, 1, 'one sync for the commit they shared');
  });
});

t.test('a sync that fails fails its writes and every write after it: the disk cannot be trusted', async (t) => {
  const { url, writer } = await stores(t);
  // A committer of the test's own, on a connection of its own (the store lends none).
  await withRawDatabase(url, async (db) => {
    const committer = new GroupCommitter(db, { appendTraces: (trx, drafts) => appendTraces(trx, writer.dialect, drafts, true), sync: () => Promise.reject(new Error('EIO: i/o error, fdatasync')) });
    const first = await Promise.allSettled([committer.write((trx) => trx.insertInto('rule_set_versions').values(versionRow('f1')).execute())]);
    t.match(first, [{ status: 'rejected', reason: { message: /EIO/ } }]);
    await t.rejects(
      committer.write((trx) => trx.insertInto('rule_set_versions').values(versionRow('f2')).execute()),
      /EIO/,
      'later writes are refused',
    );
  });
});

t.test('SQLite: the log is checkpointed into the database file by a thread of its own, and stays bounded', { skip: ON_POSTGRES && 'SQLite only' }, async (t) => {
  const url = await freshDatabaseUrl(t);
  const file = sqlitePath(url);
  const store = await openStore(url);
  t.teardown(() => store.close());
  const { rows } = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(store.read);
  t.same(rows, [{ wal_autocheckpoint: 0 }], 'no COMMIT on the event loop checkpoints');
  const before = statSync(file).size;
  // About 12 MB through the log, well past the 4 MB at which a checkpoint runs.
  const content = 'x'.repeat(60_000);
  for (let round = 0; round < 4; round++) {
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.write((trx) =>
          trx
            .insertInto('rule_set_versions')
            .values({ ...versionRow(`k${round}-${i}`), content })
            .execute(),
        ),
      ),
    );
  }
  // The thread copies pages as it goes, so the file grows in steps: wait for what is asserted.
  const copied = () => statSync(file).size > before + 4_000_000;
  const until = Date.now() + 10_000;
  while (!copied() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
  t.ok(copied(), 'committed pages were copied into the database file');
  t.ok(statSync(`${file}-wal`).size < 20_000_000, 'the log did not keep everything');
});

t.test('paused, commits wait (none refused or lost) until it resumes; pausing waits for the commit under way', async (t) => {
  const { url, writer, reader } = await stores(t);
  // A committer of the test's own, on a connection of its own (the store lends none).
  await withRawDatabase(url, async (db) => {
    let release: () => void = () => undefined;
    let started = false;
    const committer = new GroupCommitter(db, { appendTraces: (trx, drafts) => appendTraces(trx, writer.dialect, drafts, true) });
    const first = committer.write(async (trx) => {
      await trx.insertInto('rule_set_versions').values(versionRow('p1')).execute();
      started = true;
      await new Promise<void>((resolve) => (release = resolve));
    });
    while (!started) await new Promise((resolve) => setImmediate(resolve));
    let paused = false;
    const pausing = committer.pause().then(() => (paused = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    t.notOk(paused, 'pause waits for the commit under way');
    release();
    await pausing;
    await first;
    t.ok(await stored(reader, 'p1'), 'which committed');
    let answered = 0;
    const held = Array.from({ length: 5 }, (_, i) =>
      committer
        .write((trx) =>
          trx
            .insertInto('rule_set_versions')
            .values(versionRow(`p${i + 2}`))
            .execute(),
        )
        .then(() => (answered += 1)),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    t.equal(answered, 0, 'writes handed in while paused are not answered');
    t.notOk(await stored(reader, 'p2'), 'nor committed');
    committer.resume();
    await Promise.all(held);
    t.equal(answered, 5, 'after resume every one is answered');
    t.ok(await stored(reader, 'p6'), 'and committed');
  });
});

t.test('SQLite: under commits that never stop, the log starts again from its beginning, so it stays bounded', { skip: ON_POSTGRES && 'SQLite only' }, async (t) => {
  const url = await freshDatabaseUrl(t);
  const file = sqlitePath(url);
  const store = await openStore(url);
  t.teardown(() => store.close());
  // Rows the size of a large trace, always 50 in flight: there is never a moment between
  // commits in which SQLite would start the log again by itself. Without restarts the log
  // would hold all of it, so the writers go on until well past the bound, however slow the
  // machine (a fixed time once fell short of it on a slow one).
  const content = 'x'.repeat(12_000);
  const bound = 96 * 1024 * 1024;
  const enough = Math.ceil((bound * 1.25) / content.length);
  const giveUp = Date.now() + 60_000;
  let largest = 0;
  let written = 0;
  const writer = async (w: number): Promise<void> => {
    for (let i = 0; written < enough && Date.now() < giveUp; i++) {
      await store.write((trx) =>
        trx
          .insertInto('rule_set_versions')
          .values({ ...versionRow(`w${w}-${i}`), content })
          .execute(),
      );
      written += 1;
      largest = Math.max(largest, statSync(`${file}-wal`).size);
    }
  };
  await Promise.all(Array.from({ length: 50 }, (_, w) => writer(w)));
  const { rows } = await sql<{ n: number }>`select count(*) as n from rule_set_versions`.execute(store.read);
  t.equal(Number(rows[0]!.n), written, `every write stored (${written})`);
  t.ok(written * content.length > bound, `${((written * content.length) / 1048576).toFixed(0)} MiB went through the log`);
  t.ok(largest < bound, `the log peaked at ${(largest / 1048576).toFixed(1)} MiB (restarted past 32 MiB, plus what came in meanwhile)`);
});

t.test('traces are appended with their batch, only for units that succeed, in order and without gaps', async (t) => {
  const { writer, reader } = await stores(t);
  const version = { ...versionRow('v'), version: '1.0.0' };
  await writer.write((trx) => trx.insertInto('rule_set_versions').values(version).execute());
  const draft = (id: string): TraceDraft => {
    const indexed = { assessmentId: null, step: null, at: '2026-12-01T00:00:00.000Z', pathway: { id: 'p', version: '1.0.0', hash: 'v' }, result: { status: 'needs_answer' as const, questionId: 'q' } };
    // The sealed members carry what the columns are indexed by, as a real trace's do.
    return { id, ...indexed, members: Buffer.from(JSON.stringify({ ...indexed, note: id }).slice(1, -1)) };
  };
  const results = await Promise.allSettled([
    ...['t1', 't2', 'fails', 't3'].map((id) =>
      writer.write(async (_trx, chain) => {
        chain.append(draft(id));
        if (id === 'fails') throw new Error('the unit failed after staging its trace');
      }),
    ),
    // A trace with no other change goes in the same batch, without a unit of its own.
    writer.append(draft('t4')),
  ]);
  t.same(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
  );
  t.ok(writer.commits.commits <= 2, 'the five shared a commit');
  const rows = await reader.read.selectFrom('traces').select(['seq', 'id']).orderBy('seq').execute();
  t.same(
    rows.map((r) => [Number(r.seq), r.id]),
    [
      [1, 't1'],
      [2, 't2'],
      [3, 't3'],
      [4, 't4'],
    ],
    'the failed unit left no trace and no gap',
  );
  t.same(await traceRepository().verify(reader.read), { ok: true, verified: 4, lastSeq: 4, headHash: (await reader.read.selectFrom('trace_chain').select('hash').executeTakeFirstOrThrow()).hash });
});
