import MiniSearch from 'minisearch';
import { stemmer } from 'stemmer';

/**
 * The main-symptom box: lay words in, topics out, best first. One index per rule-set version,
 * built when that version is loaded or activated, never per request.
 *
 * Matching is forgiving on purpose, because people type in a hurry and spell as they speak:
 * words are stemmed (plurals and simple word forms: "aches", "aching", "ache"), compared with
 * some typos allowed ("diarhea", "stomache"), and the last word may be unfinished ("tumm").
 * Word order does not matter. Words that carry no symptom ("my", "really", "got") are dropped,
 * so they cannot pull in topics that merely share them.
 */

/** What the index needs to know of a topic. */
export interface SearchableTopic {
  id: string;
  title: string;
  description: string;
  searchTerms: readonly string[];
}

/** A topic as indexed: its search terms as one text field. */
type IndexedTopic = Omit<SearchableTopic, 'searchTerms'> & { searchTerms: string };

export interface SearchHit {
  id: string;
  score: number;
}

/** Field weights: the lay words authors wrote for searching count most, the description least. */
const BOOST = { searchTerms: 3, title: 2, description: 0.5 };

/**
 * BM25 without most of its length normalisation: a topic with many search terms is not a worse
 * match for having them (authors add synonyms, not padding).
 */
const BM25 = { k: 1.2, b: 0.2, d: 0.5 };

/** Words that say nothing about the symptom: dropped from queries and from the index alike. */
const STOP_WORDS = new Set(
  (
    'a about above after again all also am an and any anymore are as at away be because been being below bit but by ' +
    'can cant could did didnt do does doesnt doing dont down during each feel feeling feels few for from further get gets ' +
    'getting go goes going got had has have having he her here hers him his how i id if im in into is isnt it its ive ' +
    'just keep keeps kind lot me more most much my myself no nor not now of off on once only or other our out over own ' +
    'quite really same she should since so some still stop such than that the their them then there these they this ' +
    'those through time to too under until very was we were what whats when where which while who why will with wont would ' +
    'you your'
  ).split(' '),
);

/** Lower case, curly apostrophes straightened and dropped ("can't" and "cant" are one word). */
export function tokenize(text: string): string[] {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/['\u2018\u2019`]/g, '')
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** A word as the index keeps it: stemmed, or nothing for a stop word or a lone letter. */
export function processTerm(word: string): string | null {
  if (word.length < 2 || STOP_WORDS.has(word)) return null;
  return stemmer(word);
}

/** Typos allowed grow with the word: none for short words, where one letter changes the meaning. */
function fuzziness(term: string): number | false {
  if (term.length <= 3) return false;
  return term.length <= 6 ? 1 : 2;
}

export class SymptomIndex {
  private readonly index: MiniSearch<IndexedTopic>;

  constructor(topics: Iterable<SearchableTopic>) {
    this.index = new MiniSearch({
      idField: 'id',
      fields: ['title', 'description', 'searchTerms'],
      tokenize,
      processTerm,
      searchOptions: {
        boost: BOOST,
        bm25: BM25,
        combineWith: 'OR',
        // Only the last word may be unfinished: the page searches as people type.
        prefix: (term, i, terms) => i === terms.length - 1 && term.length >= 3,
        fuzzy: (term) => fuzziness(term),
        maxFuzzy: 2,
      },
    });
    // Terms are joined with a separator the tokenizer drops, so phrases stay apart.
    this.index.addAll([...topics].map((t) => ({ ...t, searchTerms: t.searchTerms.join(' ; ') })));
  }

  /** Every topic the query matches, best first; none for a query of stop words or nothing. */
  search(query: string): SearchHit[] {
    return this.index.search(query).map((r) => ({ id: String(r.id), score: r.score }));
  }
}
