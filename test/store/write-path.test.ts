// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import t, { type Test } from 'tap';
import { callbackRepository } from '../../src/store/callbacks.js';
import { openStore, type Store } from '../../src/store/store.js';
import { freshDatabaseUrl } from '../helpers.js';

/** One write path: a unit of work uses its own transaction or fails at once, never hangs. */
const versionRow = (hash: string) => ({ hash, pathway_id: 'p', version: '1', content: '{}', first_used_at: '2026-01-01T00:00:00.000Z' });
const GO_THROUGH_TRX = /use the transaction passed to the unit of work \(trx\), not store\.read or store\.write/;

async function store(t: Test): Promise<Store> {
  const opened = await openStore(await freshDatabaseUrl(t));
  t.teardown(() => opened.close());
  return opened;
}

const stored = async (s: Store, hash: string) => (await s.read.selectFrom('rule_set_versions').select('hash').where('hash', '=', hash).executeTakeFirst()) !== undefined;

t.test('a unit of work that reads around its transaction fails at once, and later writes still commit', async (t) => {
  const s = await store(t);
  const unit = s.write(async (trx) => {
    await trx.insertInto('rule_set_versions').values(versionRow('mine')).execute();
    // The mistake: store.read instead of trx. On SQLite it used to wait on this very unit forever.
    return s.read.selectFrom('rule_set_versions').select('hash').execute();
  });
  await t.rejects(unit, GO_THROUGH_TRX);
  t.notOk(await stored(s, 'mine'), 'the unit was undone as a whole');
  // So was a repository read handed store.read instead of the unit's transaction.
  await t.rejects(
    s.write((trx) =>
      callbackRepository()
        .get(s.read, 'x')
        .then(() => trx.insertInto('rule_set_versions').values(versionRow('other')).execute()),
    ),
    GO_THROUGH_TRX,
  );
  await t.rejects(
    s.write(() => s.read.transaction().execute(async (trx) => trx.selectFrom('rule_set_versions').selectAll().execute())),
    GO_THROUGH_TRX,
    'a transaction of its own on store.read too',
  );
  await s.write((trx) => trx.insertInto('rule_set_versions').values(versionRow('after')).execute());
  t.ok(await stored(s, 'after'), 'the next write commits: nothing is left queued behind the failed unit');
});

t.test('store.write from inside a unit of work fails at once instead of waiting on itself', async (t) => {
  const s = await store(t);
  await t.rejects(
    s.write(() => s.write((trx) => trx.insertInto('rule_set_versions').values(versionRow('nested')).execute())),
    GO_THROUGH_TRX,
  );
  await t.rejects(
    s.write(async () => s.append({} as never)),
    GO_THROUGH_TRX,
    'and store.append',
  );
  t.notOk(await stored(s, 'nested'));
});

t.test('store.read makes no change: every change goes through store.write', async (t) => {
  const s = await store(t);
  await t.rejects(s.read.insertInto('rule_set_versions').values(versionRow('around')).execute(), /store\.read is read-only and this is a InsertQuery/);
  await t.rejects(s.read.deleteFrom('rule_set_versions').execute(), /read-only/);
  await t.rejects(
    s.read.transaction().execute((trx) => trx.insertInto('rule_set_versions').values(versionRow('around')).execute()),
    /read-only/,
    'nor through a transaction of its own',
  );
  t.notOk(await stored(s, 'around'));
});

t.test('work a unit leaves behind may read once the unit is over', async (t) => {
  const s = await store(t);
  let later: Promise<unknown> = Promise.resolve();
  await s.write(async (trx) => {
    await trx.insertInto('rule_set_versions').values(versionRow('left')).execute();
    // Not awaited by the unit: it runs after the commit, outside any unit.
    later = new Promise((resolve) => setTimeout(resolve, 20)).then(() => stored(s, 'left'));
  });
  t.equal(await later, true);
});
