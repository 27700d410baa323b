import t from 'tap';
import { migrations } from '../../src/store/migrations.js';

/**
 * Kysely runs migrations in the order of their names and refuses to start on a database where
 * one it has run sorts after one it has not. So a migration added at the end of the list must
 * also sort last: one dated before the newest (a date written by hand, a day behind) would pass
 * every test on a fresh database and stop every instance whose database already has the newest.
 */
t.test('the migrations are listed in the order Kysely runs them, so a new one, added last, runs last', (t) => {
  const listed = Object.keys(migrations);
  t.same(listed, [...listed].sort(), 'each name sorts after the one before it');
  t.end();
});
