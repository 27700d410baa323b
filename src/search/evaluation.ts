import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';

/**
 * How well the symptom box finds the topic a person needs, over a set of lay queries each
 * labelled with that topic (test/fixtures/search-queries.yaml): hit@1 is the share where it is
 * the first result, hit@3 where it is in the first three, as a person scans them.
 */

/** What `npm test` holds the bundled rules to (issue 26). */
export const SEARCH_FLOORS = { hitAt1: 80, hitAt3: 95 };

/** The default set of lay queries, from the repository root. */
export const SEARCH_QUERIES_FILE = 'test/fixtures/search-queries.yaml';

const QueryFileSchema = z.strictObject({
  queries: z.array(z.strictObject({ q: z.string().trim().min(1), topic: z.string().min(1) })).min(1),
});
export type LabelledQuery = z.infer<typeof QueryFileSchema>['queries'][number];

export async function loadLabelledQueries(file: string): Promise<LabelledQuery[]> {
  return QueryFileSchema.parse(parse(await readFile(file, 'utf8'))).queries;
}

export interface SearchMiss {
  q: string;
  topic: string;
  /** The first three results, best first. */
  got: string[];
}

export interface SearchEvaluation {
  /** Queries whose topic the rule set has, and so were run. */
  evaluated: number;
  /** Queries whose topic the rule set does not have (yet), by topic. */
  skipped: { count: number; topics: string[] };
  hitAt1: number;
  hitAt3: number;
  /** Queries whose topic was not first; `top3: false` where it was not even in the first three. */
  misses: (SearchMiss & { top3: boolean })[];
}

/** `search` gives topic ids best first, as the service would show them. */
export function evaluateSearch(search: (q: string) => string[], topicIds: ReadonlySet<string>, queries: readonly LabelledQuery[]): SearchEvaluation {
  const run = queries.filter((q) => topicIds.has(q.topic));
  const skipped = queries.filter((q) => !topicIds.has(q.topic));
  let first = 0;
  let top3 = 0;
  const misses: SearchEvaluation['misses'] = [];
  for (const { q, topic } of run) {
    const got = search(q).slice(0, 3);
    if (got[0] === topic) first++;
    if (got.includes(topic)) top3++;
    if (got[0] !== topic) misses.push({ q, topic, got, top3: got.includes(topic) });
  }
  const share = (n: number) => (run.length ? Math.round((n / run.length) * 1000) / 10 : 0);
  return {
    evaluated: run.length,
    skipped: { count: skipped.length, topics: [...new Set(skipped.map((q) => q.topic))].sort() },
    hitAt1: share(first),
    hitAt3: share(top3),
    misses,
  };
}

export const meetsFloors = (e: SearchEvaluation): boolean => e.hitAt1 >= SEARCH_FLOORS.hitAt1 && e.hitAt3 >= SEARCH_FLOORS.hitAt3;
