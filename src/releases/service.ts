import { randomUUID } from 'node:crypto';
import { Problem, notFound } from '../problem.js';
import { preparePathwayVersion, type PathwayDefinition, type PathwayVersion } from '../rulesets/version.js';
import { PathwayFileSchema, RedFlagsFileSchema } from '../rulesets/schema.js';
import type { Store } from '../store/database.js';
import { traceRepository } from '../store/traces.js';
import type { Triage } from '../triage/triage.js';

export interface ReleaseRecord {
  id: string;
  createdAt: string;
  author: string;
  approver: string | null;
  summary: string;
  hazards: string[];
  pathways: { id: string; version: string; hash: string }[];
  checks: Record<string, unknown>;
}

export interface NewRelease {
  author: string;
  approver?: string;
  summary: string;
  hazards: string[];
  versions: PathwayVersion[];
  checks: Record<string, unknown>;
}

const CHANNEL = 'release_changes';

function toRecord(row: { id: string; created_at: string; author: string; approver: string | null; summary: string; hazards: string; pathways: string; checks: string }): ReleaseRecord {
  return {
    id: row.id,
    createdAt: row.created_at,
    author: row.author,
    approver: row.approver,
    summary: row.summary,
    hazards: JSON.parse(row.hazards) as string[],
    pathways: JSON.parse(row.pathways) as ReleaseRecord['pathways'],
    checks: JSON.parse(row.checks) as Record<string, unknown>,
  };
}

/**
 * Releases: recorded with their sign-off, activated atomically on every instance. Activation
 * swaps which versions new assessments use; requests in flight and assessments in progress keep
 * the version they started with, because they hold it (or its hash) already.
 */
export function releaseService(store: Store, triage: Triage, options: { requireSignOff: boolean; onActivated?: (id: string) => void }) {
  const { db } = store;
  const traces = traceRepository(db);
  let active: string | null = null;

  async function get(id: string): Promise<ReleaseRecord> {
    const row = await db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) {
      throw notFound('release', id);
    }
    return toRecord(row);
  }

  /** Builds every version of a release from the stored content, re-checked against the schema. */
  async function versionsOf(release: ReleaseRecord): Promise<PathwayVersion[]> {
    const problems: string[] = [];
    const versions: PathwayVersion[] = [];
    for (const p of release.pathways) {
      const content = await traces.versionContent(p.hash);
      if (!content) {
        problems.push(`${p.id}: version ${p.hash.slice(0, 12)} is not stored`);
        continue;
      }
      try {
        const definition = JSON.parse(content) as PathwayDefinition;
        const version = preparePathwayVersion({ pathway: PathwayFileSchema.parse(definition.pathway), redFlags: RedFlagsFileSchema.parse(definition.redFlags) });
        if (version.hash !== p.hash) {
          problems.push(`${p.id}: stored content does not match its hash`);
          continue;
        }
        triage.register(version);
        versions.push(version);
      } catch (err) {
        problems.push(`${p.id}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    if (problems.length) {
      throw new Problem(422, 'Invalid release', `release ${release.id} cannot serve: ${problems.join('; ')}`);
    }
    return versions;
  }

  /** Serves a release on this instance: all of its versions at once, or none. */
  async function serve(id: string): Promise<void> {
    triage.activate(await versionsOf(await get(id)));
    active = id;
    options.onActivated?.(id);
  }

  return {
    activeRelease: () => active,

    async record(release: NewRelease): Promise<ReleaseRecord> {
      if (release.approver && release.approver.trim().toLowerCase() === release.author.trim().toLowerCase()) {
        throw new Problem(422, 'Invalid sign-off', 'the clinical safety officer who signs off must be a different person from the author');
      }
      const now = new Date().toISOString();
      const record: ReleaseRecord = {
        id: randomUUID(),
        createdAt: now,
        author: release.author,
        approver: release.approver ?? null,
        summary: release.summary,
        hazards: release.hazards,
        pathways: release.versions.map((v) => ({ id: v.id, version: v.version, hash: v.hash })),
        checks: release.checks,
      };
      await store.write(async (trx) => {
        for (const version of release.versions) {
          await traces.rememberVersion(trx, version, now);
        }
        await trx
          .insertInto('releases')
          .values({
            id: record.id,
            created_at: now,
            author: record.author,
            approver: record.approver,
            summary: record.summary,
            hazards: JSON.stringify(record.hazards),
            pathways: JSON.stringify(record.pathways),
            checks: JSON.stringify(record.checks),
          })
          .execute();
      });
      return record;
    },

    async list(): Promise<(ReleaseRecord & { signedOff: boolean; active: boolean; activations: { at: string; by: string }[] })[]> {
      const rows = await db.selectFrom('releases').selectAll().orderBy('created_at', 'desc').execute();
      const activations = await db.selectFrom('release_activations').selectAll().orderBy('at').execute();
      const current = await this.current();
      return rows.map((row) => ({
        ...toRecord(row),
        signedOff: row.approver !== null,
        active: row.id === current,
        activations: activations.filter((a) => a.release_id === row.id).map((a) => ({ at: a.at, by: a.by })),
      }));
    },

    /** The release most recently activated on this database, if any. */
    async current(): Promise<string | null> {
      const last = await db.selectFrom('release_activations').select('release_id').orderBy('at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
      return last?.release_id ?? null;
    },

    /**
     * Checks the release (signed off if required, every version valid), records the activation,
     * and tells every instance. An invalid release is refused and the current one keeps serving.
     */
    async activate(id: string, by: string): Promise<ReleaseRecord> {
      const release = await get(id);
      if (options.requireSignOff && !release.approver) {
        throw new Problem(409, 'Release not signed off', `release ${id} has no clinical safety officer sign-off, which this service requires`);
      }
      await versionsOf(release);
      await db.insertInto('release_activations').values({ id: randomUUID(), release_id: id, at: new Date().toISOString(), by }).execute();
      // This instance switches before answering; the others hear it from the notifier.
      await serve(id);
      await store.notifier.publish(CHANNEL, { releaseId: id });
      return release;
    },

    /**
     * At start-up: serve the database's active release if there is one, and follow changes,
     * reading it again whenever the notifier was deaf for a while (activations may have been missed).
     */
    async follow(onError: (err: Error) => void): Promise<void> {
      await store.notifier.subscribe(CHANNEL, (message) => {
        serve((message as { releaseId: string }).releaseId).catch(onError);
      });
      store.notifier.onReconnect(() => {
        this.current()
          .then((id) => (id && id !== active ? serve(id) : undefined))
          .catch(onError);
      });
      const current = await this.current();
      if (current) {
        await serve(current);
      }
    },
  };
}

export type ReleaseService = ReturnType<typeof releaseService>;
