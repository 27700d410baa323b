import { PathwayDoesNotApply, PathwayNotFound } from '../errors.js';
import { applicabilityProblem, type Patient } from '../triage/answers.js';
import { AGE_BANDS, ageBandsServed, SEXES, type AgeBand, type Sex } from './schema.js';
import type { PathwayVersion } from './version.js';

/**
 * Topics are what a patient picks ("Earache"); a topic's variants are the pathway files that
 * share it, each serving some age bands and sexes (validate refuses variants that overlap). The
 * service runs the variant that fits the person, or the catch-all when none does.
 */

/** The pathway versions being served: a loaded rule catalog, or the Triage's active versions. */
export type Served = { versions: ReadonlyMap<string, PathwayVersion> } | readonly PathwayVersion[];

export interface Topic {
  id: string;
  title: string;
  description: string;
  /** Every band and sex some variant serves. */
  ageBands: AgeBand[];
  sexes: Sex[];
  catchAll: boolean;
  variants: PathwayVersion[];
}

/** A topic as one person gets it: the variant that serves them. */
export interface PersonalTopic {
  topic: Topic;
  version: PathwayVersion;
}

/** The pathway a request for a topic or pathway runs, and why, when it is not the one asked for. */
export interface Resolution {
  version: PathwayVersion;
  /** Set when the person is not served by what they asked for: what it was, and why. */
  redirected?: { from: string; reason: string };
}

export const topicId = (version: PathwayVersion): string => version.definition.pathway.topic ?? version.id;
const isCatchAll = (version: PathwayVersion): boolean => version.definition.pathway.catchAll === true;

function versionsOf(served: Served): PathwayVersion[] {
  return 'versions' in served ? [...served.versions.values()] : [...served];
}

/** Every topic, A to Z by title, the catch-all last (it is for whatever the list does not cover). */
export function allTopics(served: Served): Topic[] {
  const byId = new Map<string, PathwayVersion[]>();
  for (const version of versionsOf(served)) byId.set(topicId(version), [...(byId.get(topicId(version)) ?? []), version]);
  const topics = [...byId].map(([id, variants]): Topic => {
    const first = variants[0]!;
    const bands = new Set(variants.flatMap((v) => ageBandsServed(v.definition.pathway.applies)));
    const sexes = new Set(variants.flatMap((v) => v.definition.pathway.applies.sexes));
    return {
      id,
      title: first.title,
      description: first.definition.pathway.description,
      ageBands: AGE_BANDS.filter((b) => bands.has(b)),
      sexes: SEXES.filter((s) => sexes.has(s)),
      catchAll: variants.some(isCatchAll),
      variants,
    };
  });
  return topics.sort((a, b) => Number(a.catchAll) - Number(b.catchAll) || a.title.localeCompare(b.title, 'en-GB'));
}

/** The topics that serve this person, each with the variant that serves them. */
export function topicsFor(served: Served, person: Patient): PersonalTopic[] {
  return allTopics(served).flatMap((topic) => {
    const version = topic.variants.find((v) => applicabilityProblem(v, person) === undefined);
    return version ? [{ topic, version }] : [];
  });
}

/**
 * The pathway to run for a topic id or a pathway id: the variant of its topic that serves this
 * person, else the catch-all, saying why. Unknown ids are 404; a person nothing serves (no
 * catch-all, as in a release made before there was one) is 422, as before topics.
 */
export function resolveTopic(served: Served, topicOrPathwayId: string, patient: Patient): Resolution {
  const versions = versionsOf(served);
  const asked = versions.find((v) => v.id === topicOrPathwayId);
  if (asked && applicabilityProblem(asked, patient) === undefined) return { version: asked };
  const topic = asked ? topicId(asked) : topicOrPathwayId;
  const variants = versions.filter((v) => topicId(v) === topic);
  if (variants.length === 0) throw new PathwayNotFound(topicOrPathwayId);
  const variant = variants.find((v) => applicabilityProblem(v, patient) === undefined);
  // A topic's id is often also the id of one of its variants ("cough"): asked for, it names the topic.
  if (variant && topic === topicOrPathwayId) return { version: variant };
  const reason = applicabilityProblem(asked ?? variants[0]!, patient)!;
  if (variant) return { version: variant, redirected: { from: topicOrPathwayId, reason } };
  const catchAll = versions.find((v) => isCatchAll(v) && applicabilityProblem(v, patient) === undefined);
  if (catchAll) return { version: catchAll, redirected: { from: topicOrPathwayId, reason } };
  throw new PathwayDoesNotApply(reason);
}
