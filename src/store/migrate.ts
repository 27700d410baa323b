import { Migrator, type Kysely } from 'kysely';
import { migrations } from './migrations.js';
import type { Database } from './schema.js';

/**
 * Runs migrations to the latest, before the store's committer exists (nothing else writes yet).
 * Kysely's migrator takes a lock (an advisory lock on PostgreSQL), but several instances starting
 * together can still race to create its own bookkeeping tables, so a failed attempt is retried
 * after a short random pause before giving up.
 */
export async function migrate(db: Kysely<Database>, attempts = 5): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    if (!error) {
      return;
    }
    if (attempt >= attempts) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'the migration lock';
      throw new Error(`database migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 400));
  }
}
