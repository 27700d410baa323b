import t from 'tap';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { openStore } from '../../src/store/store.js';
import { tempDir } from '../helpers.js';

// SQLite rows are read as arrays and made into objects by the store (see withRowsAsLiterals):
// whatever a query returns must be exactly the object better-sqlite3 itself would have made.
const QUERIES = [
  `select 1 as n, 1.5 as r, 'text' as s, null as z, x'00ff' as b, 9007199254740991 as big`,
  // A repeated name: the last column wins, as in better-sqlite3's own objects.
  `select 1 as a, 2 as b, 3 as a`,
  // __proto__ sets the prototype in better-sqlite3's objects too (to a blob; a string is ignored).
  `select 'x' as "__proto__", 'y' as "constructor"`,
  `select x'00ff' as "__proto__", 'y' as "a"`,
  `select 'q' as "it's", 'w' as "a ""b"" c", 'e' as "back\\slash", 'r' as "new
line", 's' as "1st"`,
  `select hash, pathway_id, version from rule_set_versions order by hash`,
  `select * from rule_set_versions where 0`,
];

/** A row's own keys in order, their values, and its prototype (which may be a blob, see above). */
function described(row: Record<string, unknown>) {
  const prototype: unknown = Object.getPrototypeOf(row);
  return { entries: Object.entries(row), prototype: prototype === Object.prototype ? 'Object.prototype' : Buffer.isBuffer(prototype) ? [...prototype] : prototype };
}

t.test('rows read through the store are the objects better-sqlite3 makes, key for key and in order', async (t) => {
  const file = path.join(tempDir(t), 'rows.db');
  const store = await openStore(`sqlite:${file}`);
  t.teardown(() => store.close());
  await store.write(async (trx) => {
    for (const [i, hash] of ['h1', 'h2', 'h3'].entries()) {
      await trx
        .insertInto('rule_set_versions')
        .values({ hash, pathway_id: `p${i}`, version: String(i), content: '{}', first_used_at: '2026-01-01T00:00:00.000Z' })
        .execute();
    }
  });
  const direct = new SQLite(file, { readonly: true });
  t.teardown(() => direct.close());

  for (const text of QUERIES) {
    const expected = direct.prepare(text).all() as Record<string, unknown>[];
    // Twice: the second time from the store's statement cache.
    for (const round of [1, 2]) {
      const { rows } = await sql.raw<Record<string, unknown>>(text).execute(store.read);
      t.same(rows.map(described), expected.map(described), `${text} (${round})`);
    }
  }
  // Streaming reads go through the same statements.
  const streamed: unknown[] = [];
  for await (const row of store.read.selectFrom('rule_set_versions').select(['hash', 'pathway_id']).orderBy('hash').stream()) streamed.push(row);
  t.same(streamed, direct.prepare('select hash, pathway_id from rule_set_versions order by hash').all());
  // Writes still report what they changed.
  const result = await store.write((trx) => trx.updateTable('rule_set_versions').set({ version: '9' }).where('hash', 'in', ['h1', 'h2']).executeTakeFirst());
  t.equal(Number(result.numUpdatedRows), 2);
});

t.test('a schema changed by another connection is read as it now is, or refused, never mislabelled', async (t) => {
  const file = path.join(tempDir(t), 'rows.db');
  const store = await openStore(`sqlite:${file}`);
  t.teardown(() => store.close());
  await store.write(async (trx) => {
    await sql`create table scratch (a text, b text)`.execute(trx);
    await sql`insert into scratch values ('one', 'two')`.execute(trx);
  });
  const all = async () => (await sql.raw<Record<string, unknown>>('select * from scratch').execute(store.read)).rows;
  const named = async () => (await sql.raw<Record<string, unknown>>('select a, b from scratch').execute(store.read)).rows;
  t.same(await all(), [{ a: 'one', b: 'two' }]);
  t.same(await named(), [{ a: 'one', b: 'two' }]);

  // Another process rebuilds the table with its columns the other way round, as a migration may.
  const other = new SQLite(file);
  other.exec(`create table scratch_new (b text, a text);
    insert into scratch_new select b, a from scratch;
    drop table scratch;
    alter table scratch_new rename to scratch;`);
  other.close();
  const rows = await all();
  t.same(rows, [{ b: 'two', a: 'one' }], 'select * gives the columns the table has now');
  t.same(Object.keys(rows[0]!), ['b', 'a']);
  t.same(await named(), [{ a: 'one', b: 'two' }], 'named columns keep their names whatever their place');

  const renamer = new SQLite(file);
  renamer.exec('alter table scratch rename column a to c');
  renamer.close();
  await t.rejects(named(), /no such column: a/, 'a column that is gone is an error, not a mislabelled value');
});
