import { allTopics, type Topic } from '../rulesets/topics.js';
import type { PathwayVersion } from '../rulesets/version.js';
import { applicabilityProblem, type Patient } from '../triage/answers.js';
import { SymptomIndex, type SearchableTopic } from './symptom-search.js';

/** At most this many results: a person scans a short list, and the A-Z list is below it. */
export const MAX_RESULTS = 10;

/**
 * Topics scoring under this share of the best one matched a stray word ("pain", "ache") and
 * would bury the likely ones; the A-Z list is there for the rest. Over the lay queries, 0.2
 * drops none that people needed and halves the list (measured with search-eval).
 */
const MIN_RELATIVE_SCORE = 0.2;

export interface TopicSearchResult {
  /** Best first; the catch-all alone when nothing matched. */
  topics: Topic[];
  /** False when nothing matched the words and the catch-all is offered instead. */
  matched: boolean;
}

/** A topic's words: the search terms of all its variants (one title and description). */
function searchable(topic: Topic): SearchableTopic {
  const terms = new Set(topic.variants.flatMap((v) => v.definition.pathway.searchTerms ?? []));
  return { id: topic.id, title: topic.title, description: topic.description, searchTerms: [...terms] };
}

/**
 * Symptom search over the topics of one set of active pathway versions. Built once when those
 * versions are activated; a search is then only a lookup.
 */
export class TopicSearch {
  private readonly topics: Topic[];
  private readonly byId: ReadonlyMap<string, Topic>;
  private readonly index: SymptomIndex;

  constructor(versions: readonly PathwayVersion[]) {
    this.topics = allTopics(versions);
    this.byId = new Map(this.topics.map((t) => [t.id, t]));
    this.index = new SymptomIndex(this.topics.map(searchable));
  }

  /**
   * The topics matching the words, best first, among those that serve this person when one is
   * given. Nothing matched (or nothing that serves them): the catch-all, so nobody is left
   * without a way in; it and the global red flags then ask about emergencies first.
   */
  search(query: string, person?: Patient): TopicSearchResult {
    // As topicsFor decides: a topic serves a person when one of its variants applies to them.
    const serves = (topic: Topic) => !person || topic.variants.some((v) => applicabilityProblem(v, person) === undefined);
    const hits = this.index.search(query).filter((hit) => serves(this.byId.get(hit.id)!));
    const best = hits[0]?.score ?? 0;
    const found = hits
      .filter((hit) => hit.score >= best * MIN_RELATIVE_SCORE)
      .slice(0, MAX_RESULTS)
      .map((hit) => this.byId.get(hit.id)!);
    if (found.length > 0) return { topics: found, matched: true };
    const catchAll = this.topics.find((t) => t.catchAll);
    return { topics: catchAll ? [catchAll] : [], matched: false };
  }
}
