import { fleschKincaid } from 'flesch-kincaid';
import { syllable } from 'syllable';
import { finding, type Finding, type ParsedFile } from '../rulesets/loader.js';

/**
 * Reading age of patient-facing text, by the Flesch-Kincaid grade (the formula from the
 * flesch-kincaid package, syllables counted by the syllable package). A US grade is a UK reading
 * age less 5 years. The NHS content standard aims at a reading age of about 9 to 11, so text
 * above 11 is worth rewriting: shorter sentences, shorter words.
 *
 * A formula is a hint, not a judge: on a few words one long medical word ("paracetamol") moves
 * the figure a lot, so only passages of at least MIN_WORDS words are judged on their own.
 */

/** The reading age the NHS content standard asks for, about. */
export const TARGET_READING_AGE = 11;

/** Shorter passages are counted in their file's figure but not judged alone. */
export const MIN_WORDS = 8;

export interface TextStats {
  words: number;
  sentences: number;
  syllables: number;
}

const WORD = /[\p{L}\p{N}]+(?:['\u2019-][\p{L}\p{N}]+)*/gu;

/** Sentences end at . ! ? or a line break; a list item or a label counts as one. */
export function textStats(text: string): TextStats {
  const sentences = text
    .split(/[.!?]+(?=\s|$)|\n+/)
    .map((s) => s.match(WORD) ?? [])
    .filter((words) => words.length > 0);
  const words = sentences.flat();
  return { words: words.length, sentences: sentences.length, syllables: words.reduce((n, w) => n + syllable(w), 0) };
}

export function addStats(a: TextStats, b: TextStats): TextStats {
  return { words: a.words + b.words, sentences: a.sentences + b.sentences, syllables: a.syllables + b.syllables };
}

/** Below this the formula's figure means nothing (it goes negative on two short words). */
const YOUNGEST = 5;

/** Reading age in years (Flesch-Kincaid grade + 5, at least 5), one decimal; undefined for no words. */
export function readingAge(stats: TextStats): number | undefined {
  if (stats.words === 0) return undefined;
  const grade = fleschKincaid({ sentence: stats.sentences, word: stats.words, syllable: stats.syllables });
  return Math.max(YOUNGEST, Math.round((grade + 5) * 10) / 10);
}

/** Whether a passage is long enough to judge on its own and reads above the target age. */
export function tooHard(stats: TextStats): boolean {
  const age = readingAge(stats);
  return stats.words >= MIN_WORDS && age !== undefined && age > TARGET_READING_AGE;
}

/** A page a patient reads: one question with its help and answers, or one outcome. */
interface Page {
  at: (string | number)[];
  what: string;
  stats: TextStats;
}

interface PatientText {
  questions: readonly (object | { id: string; text: string; help?: string; options?: readonly { label: string }[]; unsure?: { label?: string } })[];
  outcomes: Readonly<Record<string, { title: string; advice: string; safetyNetting?: string }>>;
}

const stats = (...texts: (string | undefined)[]) =>
  texts
    .filter((t): t is string => Boolean(t))
    .map(textStats)
    .reduce(addStats, { words: 0, sentences: 0, syllables: 0 });

/** Every page a file shows patients; includes of modules are skipped (the module is read on its own). */
export function patientPages(content: PatientText): Page[] {
  const pages: Page[] = [];
  content.questions.forEach((q, i) => {
    if (!('text' in q)) return;
    const labels = 'options' in q && q.options ? q.options.map((o) => o.label) : [];
    pages.push({ at: ['questions', i], what: `question ${q.id}`, stats: stats(q.text, q.help, ...labels, q.unsure?.label) });
  });
  for (const [id, o] of Object.entries(content.outcomes)) {
    pages.push({ at: ['outcomes', id], what: `outcome ${id}`, stats: stats(o.title, o.advice, o.safetyNetting) });
  }
  return pages;
}

export interface FileReadability {
  file: string;
  /** Reading age of all the file's patient-facing text together. */
  readingAge: number | undefined;
  words: number;
  outcomes: { id: string; readingAge: number | undefined }[];
}

/** The figure per file and per outcome, and a warning for each page that reads above the target. */
export function readability(files: readonly ParsedFile<PatientText>[]): { files: FileReadability[]; findings: Finding[] } {
  const findings: Finding[] = [];
  const report = files.map(({ source, content }) => {
    const pages = patientPages(content);
    for (const page of pages) {
      if (tooHard(page.stats)) {
        findings.push(
          finding(
            source,
            page.at,
            'reading-age',
            `${page.what} reads at age ${readingAge(page.stats)}, above about ${TARGET_READING_AGE} (the NHS content standard): use shorter sentences and everyday words`,
            'warning',
          ),
        );
      }
    }
    const all = pages.map((p) => p.stats).reduce(addStats, { words: 0, sentences: 0, syllables: 0 });
    return {
      file: source.file,
      readingAge: readingAge(all),
      words: all.words,
      outcomes: pages.filter((p) => p.at[0] === 'outcomes').map((p) => ({ id: String(p.at[1]), readingAge: readingAge(p.stats) })),
    };
  });
  return { files: report, findings };
}
