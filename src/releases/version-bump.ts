import { canonicalJson } from '../canonical.js';
import type { RuleCatalog } from '../rulesets/loader.js';
import type { PathwayDefinition } from '../rulesets/version.js';
import type { Executor } from '../store/schema.js';
import { versionRepository } from '../store/versions.js';

/**
 * Files whose content changed while their version stayed the same, measured against every
 * version the database has stored (recorded in a release, or used for a decision). A version
 * number then names two different contents, and a trace or release saying "1.0.0" no longer says
 * which one: each finding names the file to bump, with the old and the new content hash.
 *
 * A pathway version is the pathway file together with the global red flags and the modules it
 * includes, so each is checked against earlier content of the same version of it.
 */
export async function unbumpedChanges(db: Executor, catalog: RuleCatalog): Promise<string[]> {
  const versions = versionRepository();
  const found: string[] = [];
  let redFlagsReported = false;
  const modulesReported = new Set<string>();
  const redFlags = catalog.redFlags.content;
  const modules = new Map(catalog.modules.map((m) => [m.content.id, m]));
  for (const { source, content: pathway } of catalog.pathways) {
    const version = catalog.versions.get(pathway.id)!;
    const stored = await versions.others(db, pathway.id, version.hash);
    for (const row of stored) {
      const old = JSON.parse(row.content) as PathwayDefinition;
      const was = `hash ${row.hash}; this content hashes to ${version.hash}`;
      if (old.pathway.version === pathway.version && canonicalJson(old.pathway) !== canonicalJson(pathway)) {
        found.push(`${source.file}: pathway ${pathway.id} version ${pathway.version} changed without a version bump (recorded before as ${was}): bump its version`);
        break;
      }
      if (!redFlagsReported && old.redFlags.version === redFlags.version && canonicalJson(old.redFlags) !== canonicalJson(redFlags)) {
        found.push(
          `${catalog.redFlags.source.file}: global red flags version ${redFlags.version} changed without a version bump (pathway ${pathway.id} ${pathway.version} was recorded before as ${was}): bump their version`,
        );
        redFlagsReported = true;
      }
      // A module is part of every version that includes it: its version must move with its content.
      for (const was of old.modules ?? []) {
        const now = modules.get(was.id);
        if (now && !modulesReported.has(was.id) && was.version === now.content.version && canonicalJson(was) !== canonicalJson(now.content)) {
          found.push(
            `${now.source.file}: module ${was.id} version ${was.version} changed without a version bump (pathway ${pathway.id} ${pathway.version} was recorded before as ${row.hash}): bump its version`,
          );
          modulesReported.add(was.id);
        }
      }
    }
  }
  return found;
}
