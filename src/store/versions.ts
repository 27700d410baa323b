import type { Transaction } from 'kysely';
import { restorePathwayVersion, type PathwayVersion } from '../rulesets/version.js';
import type { Triage } from '../triage/triage.js';
import type { Database, Executor } from './schema.js';

/** Rule-set versions, content-addressed: each stored the first time it serves (or is released). */
export function versionRepository(): VersionRepository {
  return {
    async remember(trx: Transaction<Database>, version: PathwayVersion, at: string): Promise<void> {
      await trx
        .insertInto('rule_set_versions')
        .values({ hash: version.hash, pathway_id: version.id, version: version.version, content: version.canonical, first_used_at: at })
        .onConflict((oc) => oc.column('hash').doNothing())
        .execute();
    },

    async content(db: Executor, hash: string): Promise<string | undefined> {
      const row = await db.selectFrom('rule_set_versions').select('content').where('hash', '=', hash).executeTakeFirst();
      return row?.content;
    },

    /** Every stored version of a pathway but the one hashed `except`, oldest first. */
    async others(db: Executor, pathwayId: string, except: string): Promise<{ hash: string; content: string }[]> {
      return db.selectFrom('rule_set_versions').select(['hash', 'content']).where('pathway_id', '=', pathwayId).where('hash', '!=', except).orderBy('first_used_at').execute();
    },
  };
}

/** A pathway version by hash, read through the executor given when it is not in memory. */
export type VersionLookup = (db: Executor, hash: string) => Promise<PathwayVersion>;

/**
 * Finds a pathway version by hash: in memory if loaded, else from the content-addressed copy
 * stored when it first served a decision, so old assessments and replays survive rule edits.
 */
export function versionLookup(triage: Pick<Triage, 'version' | 'register'>): VersionLookup {
  const versions = versionRepository();
  return async (db, hash) => {
    const known = triage.version(hash);
    if (known) {
      return known;
    }
    const content = await versions.content(db, hash);
    if (!content) {
      throw new Error(`rule-set version ${hash} is neither loaded nor stored`);
    }
    const version = restorePathwayVersion(hash, content);
    triage.register(version);
    return version;
  };
}

/** versionLookup on the store's read handle. */
export function versionResolver(triage: Pick<Triage, 'version' | 'register'>, read: Executor): (hash: string) => Promise<PathwayVersion> {
  const lookup = versionLookup(triage);
  return (hash) => lookup(read, hash);
}

/** Stored rule-set versions. */
export interface VersionRepository {
  remember(trx: Transaction<Database>, version: PathwayVersion, at: string): Promise<void>;
  content(db: Executor, hash: string): Promise<string | undefined>;
  /** Every stored version of a pathway but the one hashed `except`, oldest first. */
  others(
    db: Executor,
    pathwayId: string,
    except: string,
  ): Promise<
    {
      hash: string;
      content: string;
    }[]
  >;
}
