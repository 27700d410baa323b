import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { NotAllowed, ReleaseNotFound, ReleaseRefused } from '../errors.js';
import type { RuleCatalog } from '../rulesets/loader.js';
import { parseStoredDefinition, pathwayRef, preparePathwayVersion, type PathwayRef, type PathwayVersion } from '../rulesets/version.js';
import { authorise, type Principal } from '../security/roles.js';
import { releaseRepository, type ReleaseRow } from '../store/releases.js';
import type { ReleaseAction } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { versionRepository } from '../store/versions.js';
import type { Triage } from '../triage/triage.js';
import { unbumpedChanges } from './version-bump.js';

export interface ReleaseRecord {
  id: string;
  createdAt: string;
  author: string;
  approver: string | null;
  signedOffAt: string | null;
  approverClaimed: string | null;
  summary: string;
  hazards: string[];
  pathways: PathwayRef[];
  checks: Record<string, unknown>;
}

export interface NewRelease {
  /** Who records it: its author, who can never sign it off. */
  author: Principal;
  catalog: RuleCatalog;
  summary: string;
  hazards: string[];
  checks: Record<string, unknown>;
}

/** An activation (or a switch back to the rule files) as recorded. */
export interface Activation {
  releaseId: string;
  at: string;
  by: string;
  action: ReleaseAction;
}

const CHANNEL = 'release_changes';

/** How often a SQLite instance looks for a switch made by another process (the CLI). */
const SQLITE_POLL_MS = 1000;

/** Whether activation needs sign-off: RELEASE_REQUIRE_SIGNOFF, by default only in production. */
export const requiresSignOff = (config: Config): boolean => (config.RELEASE_REQUIRE_SIGNOFF ?? (config.NODE_ENV === 'production' ? 'true' : 'false')) === 'true';

function toRecord(row: ReleaseRow): ReleaseRecord {
  return {
    id: row.id,
    createdAt: row.created_at,
    author: row.author,
    approver: row.approver,
    signedOffAt: row.signed_off_at,
    approverClaimed: row.approver_claimed,
    summary: row.summary,
    hazards: JSON.parse(row.hazards) as string[],
    pathways: JSON.parse(row.pathways) as ReleaseRecord['pathways'],
    checks: JSON.parse(row.checks) as Record<string, unknown>,
  };
}

/**
 * Releases: recorded by their author, signed off by another clinician, activated atomically on
 * every instance. Activation swaps which versions new assessments use; requests in flight and
 * assessments in progress keep the version they started with, because they hold it (or its hash)
 * already. Deactivation goes back to the rule files the instance started with.
 */
export function releaseService(store: Store, triage: Triage, options: { requireSignOff: boolean; files: PathwayVersion[]; onActivated?: (id: string | null) => void }): ReleaseService {
  const { read } = store;
  const releases = releaseRepository();
  const versions = versionRepository();
  let active: string | null = null;
  let poll: NodeJS.Timeout | undefined;

  async function get(id: string): Promise<ReleaseRecord> {
    const row = await releases.get(read, id);
    if (!row) {
      throw new ReleaseNotFound(id);
    }
    return toRecord(row);
  }

  /** Builds every version of a release from the stored content, re-checked against the schema. */
  async function versionsOf(release: ReleaseRecord): Promise<PathwayVersion[]> {
    const problems: string[] = [];
    const served: PathwayVersion[] = [];
    for (const p of release.pathways) {
      const content = await versions.content(read, p.hash);
      if (!content) {
        problems.push(`${p.id}: version ${p.hash.slice(0, 12)} is not stored`);
        continue;
      }
      try {
        const version = preparePathwayVersion(parseStoredDefinition(content));
        if (version.hash !== p.hash) {
          problems.push(`${p.id}: stored content does not match its hash`);
          continue;
        }
        triage.register(version);
        served.push(version);
      } catch (err) {
        problems.push(`${p.id}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    if (problems.length) {
      throw new ReleaseRefused('invalid', `release ${release.id} cannot serve: ${problems.join('; ')}`);
    }
    return served;
  }

  /** Serves a release on this instance, all of its versions at once or none; null: the rule files. */
  async function serve(id: string | null): Promise<void> {
    triage.activate(id === null ? options.files : await versionsOf(await get(id)));
    active = id;
    options.onActivated?.(id);
  }

  /** The last switch recorded on this database, if any. */
  async function lastSwitch(): Promise<Activation | null> {
    const last = await releases.lastSwitch(read);
    return last ? { releaseId: last.release_id, at: last.at, by: last.by, action: last.action } : null;
  }

  /** Records a switch (durable before anyone hears of it), serves it here, and tells every other instance. */
  async function switchTo(releaseId: string, action: ReleaseAction, by: string): Promise<void> {
    await store.write((trx) => releases.recordSwitch(trx, releaseId, action, by, new Date().toISOString()));
    const id = action === 'activate' ? releaseId : null;
    // This instance switches before answering; the others hear it from the notifier.
    await serve(id);
    await store.notifier.publish(CHANNEL, { releaseId: id });
  }

  return {
    activeRelease: () => active,

    /** What to do to serve the rule files again, for the start-up message and refusals. */
    filesAgain: (): string =>
      options.requireSignOff
        ? 'this service only serves signed-off releases (RELEASE_REQUIRE_SIGNOFF), so to serve the rule files again record them as a release (npm run rules -- release <dir>), have it signed off and activate it'
        : 'to serve the rule files again, an admin runs: npm run rules -- release deactivate (or POST /v1/admin/releases/deactivate); to roll back instead: npm run rules -- release activate <earlier id>',

    /**
     * Records a release by its author after checking that no file changed without a version bump.
     * It is not signed off: another clinician does that (signOff).
     */
    async record(release: NewRelease): Promise<ReleaseRecord> {
      const author = authorise(release.author, 'releaseSignOff');
      const unbumped = await unbumpedChanges(read, release.catalog);
      if (unbumped.length) {
        throw new ReleaseRefused('version_not_bumped', unbumped.join('; '));
      }
      const recorded = [...release.catalog.versions.values()];
      const now = new Date().toISOString();
      const record: ReleaseRecord = {
        id: randomUUID(),
        createdAt: now,
        author: author.id,
        approver: null,
        signedOffAt: null,
        approverClaimed: null,
        summary: release.summary,
        hazards: release.hazards,
        pathways: recorded.map(pathwayRef),
        checks: release.checks,
      };
      await store.write(async (trx) => {
        for (const version of recorded) {
          await versions.remember(trx, version, now);
        }
        await releases.insert(trx, {
          id: record.id,
          created_at: now,
          author: record.author,
          approver: null,
          signed_off_at: null,
          approver_claimed: null,
          summary: record.summary,
          hazards: JSON.stringify(record.hazards),
          pathways: JSON.stringify(record.pathways),
          checks: JSON.stringify(record.checks),
        });
      });
      return record;
    },

    /** Clinical safety officer sign-off: a clinician who is not the author, recorded by their id. */
    async signOff(id: string, by: Principal): Promise<ReleaseRecord> {
      const officer = authorise(by, 'releaseSignOff');
      const release = await get(id);
      if (release.author === officer.id) {
        throw new NotAllowed(`${officer.id} recorded release ${id}; its sign-off must come from another clinician, the clinical safety officer`, 'author_sign_off');
      }
      const at = new Date().toISOString();
      if (!(await store.write((trx) => releases.signOff(trx, id, officer.id, at)))) {
        const signed = await get(id);
        throw new ReleaseRefused('already_signed_off', `release ${id} was signed off by ${signed.approver} at ${signed.signedOffAt}`);
      }
      return { ...release, approver: officer.id, signedOffAt: at };
    },

    async list(): Promise<(ReleaseRecord & { signedOff: boolean; active: boolean; activations: Omit<Activation, 'releaseId'>[] })[]> {
      const rows = await releases.list(read);
      const activations = await releases.activations(read);
      const current = await this.current();
      return rows.map((row) => ({
        ...toRecord(row),
        signedOff: row.signed_off_at !== null,
        active: row.id === current?.releaseId,
        activations: activations.filter((a) => a.release_id === row.id).map((a) => ({ at: a.at, by: a.by, action: a.action })),
      }));
    },

    /** The activation of the release this database serves, if any (none: the rule files). */
    async current(): Promise<Activation | null> {
      const last = await lastSwitch();
      return last?.action === 'activate' ? last : null;
    },

    /**
     * Checks the release (signed off if required, every version valid), records the activation,
     * and tells every instance. An invalid release is refused and the current one keeps serving.
     */
    async activate(id: string, by: string): Promise<ReleaseRecord> {
      const release = await get(id);
      if (options.requireSignOff && !release.signedOffAt) {
        throw new ReleaseRefused('not_signed_off', `release ${id} has no clinical safety officer sign-off, which this service requires`);
      }
      await versionsOf(release);
      await switchTo(id, 'activate', by);
      return release;
    },

    /** Back to the rule files each instance started with; refused where only signed-off releases may serve. */
    async deactivate(by: string): Promise<string> {
      const current = await this.current();
      if (!current) {
        throw new ReleaseRefused('none_active', 'the rule files are already being served');
      }
      if (options.requireSignOff) {
        throw new ReleaseRefused('sign_off_required', this.filesAgain());
      }
      await switchTo(current.releaseId, 'deactivate', by);
      return current.releaseId;
    },

    /**
     * At start-up: serve the database's active release if there is one, and follow changes,
     * reading it again whenever the notifier was deaf for a while (activations may have been
     * missed). On SQLite the notifier reaches this process only, so a switch made by the CLI is polled for.
     */
    async follow(onError: (err: Error) => void): Promise<void> {
      await store.notifier.subscribe(CHANNEL, (message) => {
        serve((message as { releaseId: string | null }).releaseId).catch(onError);
      });
      store.notifier.onReconnect(() => {
        this.current()
          .then((now) => {
            const id = now?.releaseId ?? null;
            return id !== active ? serve(id) : undefined;
          })
          .catch(onError);
      });
      const current = await this.current();
      if (current) {
        await serve(current.releaseId);
      }
      if (store.dialect === 'sqlite') {
        let failed: string | null | undefined; // the switch that could not be served, not retried
        poll = setInterval(() => {
          // A switch made in this process while the query ran is newer than what it read.
          const before = active;
          this.current().then(
            (now) => {
              const id = now?.releaseId ?? null;
              if (active === before && id !== active && id !== failed) {
                serve(id).catch((err: Error) => {
                  failed = id;
                  onError(err);
                });
              }
            },
            (err: Error) => onError(err),
          );
        }, SQLITE_POLL_MS);
        poll.unref();
      }
    },

    /** Stops following switches (before the store closes). */
    stop(): void {
      clearInterval(poll);
    },
  };
}

/** Releases as the routes, the CLI and start-up use them. */
export interface ReleaseService {
  activeRelease: () => string | null;
  /** What to do to serve the rule files again, for the start-up message and refusals. */
  filesAgain: () => string;
  /**
   * Records a release by its author after checking that no file changed without a version bump.
   * It is not signed off: another clinician does that (signOff).
   */
  record(release: NewRelease): Promise<ReleaseRecord>;
  /** Clinical safety officer sign-off: a clinician who is not the author, recorded by their id. */
  signOff(id: string, by: Principal): Promise<ReleaseRecord>;
  list(): Promise<
    (ReleaseRecord & {
      signedOff: boolean;
      active: boolean;
      activations: Omit<Activation, 'releaseId'>[];
    })[]
  >;
  /** The activation of the release this database serves, if any (none: the rule files). */
  current(): Promise<Activation | null>;
  /**
   * Checks the release (signed off if required, every version valid), records the activation,
   * and tells every instance. An invalid release is refused and the current one keeps serving.
   */
  activate(id: string, by: string): Promise<ReleaseRecord>;
  /** Back to the rule files each instance started with; refused where only signed-off releases may serve. */
  deactivate(by: string): Promise<string>;
  /**
   * At start-up: serve the database's active release if there is one, and follow changes,
   * reading it again whenever the notifier was deaf for a while (activations may have been
   * missed). On SQLite the notifier reaches this process only, so a switch made by the CLI is polled for.
   */
  follow(onError: (err: Error) => void): Promise<void>;
  /** Stops following switches (before the store closes). */
  stop(): void;
}
