import type SQLite from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * Kysely prepares every query afresh, and preparing is a good part of a small query's cost.
 * better-sqlite3 statements can be run again and again, and Kysely runs one query at a time
 * on its single SQLite connection, so statements are kept by their SQL text (the most recently
 * used few hundred).
 */
export function withStatementCache(sqlite: SQLite.Database, size = 500): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  return {
    close: () => void sqlite.close(),
    prepare(text: string) {
      let statement = statements.get(text);
      if (statement) {
        statements.delete(text);
      } else {
        statement = withRowsAsLiterals(sqlite.prepare(text));
        if (statements.size >= size) statements.delete(statements.keys().next().value!);
      }
      statements.set(text, statement);
      return statement;
    },
  };
}

/**
 * better-sqlite3 builds each row object from C++, one property at a time: for a queue page (51
 * rows of 11 columns) that took longer than finding and reading the rows. Rows are read as
 * arrays instead and made into objects by a function compiled once per statement from its
 * column names: an object literal, which V8 builds in one go with a fixed shape. The objects are
 * the same as before: own properties in column order, the last of a repeated name winning, and
 * a column named __proto__ setting the prototype, as better-sqlite3's own assignment does.
 *
 * Only for statements that name every column they return. The columns of a `*` follow the
 * schema, which another process (an instance starting up) may migrate while this statement is
 * cached: SQLite then re-prepares it, and names fixed beforehand could label the wrong values.
 */
function withRowsAsLiterals(statement: SQLite.Statement): SqliteStatement {
  if (!statement.reader || statement.source.includes('*')) {
    return statement;
  }
  // The names are SQLite's own, each quoted by JSON.stringify.
  const names = statement.columns().map((c) => c.name);
  const row = new Function('v', `return {${names.map((name, i) => `${JSON.stringify(name)}: v[${i}]`).join(', ')}};`) as (values: unknown[]) => unknown;
  statement.raw(true);
  return {
    reader: true,
    all: (parameters) => (statement.all(parameters) as unknown[][]).map(row),
    run: (parameters) => statement.run(parameters),
    *iterate(parameters) {
      for (const values of statement.iterate(parameters) as IterableIterator<unknown[]>) yield row(values);
    },
  };
}
