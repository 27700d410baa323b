import { FALLBACK_CAUSES, SUPPRESS_BELOW, SUPPRESSED, type CallbacksReport, type OutcomesReport, type Percentiles } from './reports.js';
import { OUTCOME_KINDS } from '../rulesets/schema.js';

/**
 * Reports as they leave the service for others to read: the exported form (the API's
 * `suppress=true` and every CSV), where a count from 1 to 4 is "<5" so that nobody can be
 * singled out, and what is computed from fewer than 5 requests (a share, a percentile) is left out.
 */

export type Suppressed = number | typeof SUPPRESSED;

export const suppress = (n: number): Suppressed => (n > 0 && n < SUPPRESS_BELOW ? SUPPRESSED : n);

const suppressAll = <K extends string>(counts: Record<K, number>): Record<K, Suppressed> => Object.fromEntries(Object.entries<number>(counts).map(([k, v]) => [k, suppress(v)])) as Record<K, Suppressed>;

const NOTHING: Percentiles = { median: null, p90: null };

export function exportOutcomes(report: OutcomesReport): OutcomesReport<Suppressed> {
  return {
    ...report,
    intervals: report.intervals.map((i) => ({
      ...i,
      started: suppress(i.started),
      completed: suppress(i.completed),
      inProgress: suppress(i.inProgress),
      abandoned: suppress(i.abandoned),
      outcomes: suppressAll(i.outcomes),
      fallbacks: suppressAll(i.fallbacks),
    })),
    outcomes: report.outcomes.map((o) => ({ ...o, count: suppress(o.count) })),
    topics: report.topics.map((t) => ({ ...t, started: suppress(t.started), completed: suppress(t.completed), abandoned: suppress(t.abandoned), fallbacks: suppress(t.fallbacks) })),
    fallbacks: report.fallbacks.map((f) => ({ ...f, total: suppress(f.total), causes: suppressAll(f.causes) })),
  };
}

export function exportCallbacks(report: CallbacksReport): CallbacksReport<Suppressed> {
  return {
    ...report,
    overdueNow: suppress(report.overdueNow),
    windows: report.windows.map((w) => {
      const few = w.requests - w.cancelledBeforeCall < SUPPRESS_BELOW;
      return {
        ...w,
        requests: suppress(w.requests),
        cancelledBeforeCall: suppress(w.cancelledBeforeCall),
        withinWindow: suppress(w.withinWindow),
        share: few ? null : w.share,
        firstCall: few ? NOTHING : w.firstCall,
        completion: few ? NOTHING : w.completion,
        flaggedNoAnswer: suppress(w.flaggedNoAnswer),
        overdueNow: suppress(w.overdueNow),
      };
    }),
    waiting: report.waiting.map((w) => ({ ...w, peak: suppress(w.peak) })),
  };
}

type Cell = string | number | null;
export interface Table {
  columns: string[];
  rows: Cell[][];
}

/** The tables of each report, as the reports page shows them and the CSV downloads carry them. */
export const OUTCOME_TABLES = ['intervals', 'outcomes', 'topics', 'fallbacks'] as const;
export const CALLBACK_TABLES = ['windows', 'waiting'] as const;
export type OutcomeTable = (typeof OUTCOME_TABLES)[number];
export type CallbackTable = (typeof CALLBACK_TABLES)[number];

export function outcomeTable(report: OutcomesReport<Suppressed>, table: OutcomeTable): Table {
  switch (table) {
    case 'intervals':
      return {
        columns: ['interval_start', 'started', 'completed', 'in_progress', 'abandoned', ...OUTCOME_KINDS, ...FALLBACK_CAUSES.map((c) => `fallback_${c}`)],
        rows: report.intervals.map((i) => [i.start, i.started, i.completed, i.inProgress, i.abandoned, ...OUTCOME_KINDS.map((k) => i.outcomes[k]), ...FALLBACK_CAUSES.map((c) => i.fallbacks[c])]),
      };
    case 'outcomes':
      return { columns: ['interval_start', 'topic', 'age_band', 'kind', 'disposition', 'count'], rows: report.outcomes.map((o) => [o.start, o.topicId, o.ageBand, o.kind, o.disposition, o.count]) };
    case 'topics':
      return { columns: ['topic', 'age_band', 'started', 'completed', 'abandoned', 'fallbacks'], rows: report.topics.map((t) => [t.topicId, t.ageBand, t.started, t.completed, t.abandoned, t.fallbacks]) };
    case 'fallbacks':
      return { columns: ['topic', 'fallbacks', ...FALLBACK_CAUSES], rows: report.fallbacks.map((f) => [f.topicId, f.total, ...FALLBACK_CAUSES.map((c) => f.causes[c])]) };
  }
}

export function callbackTable(report: CallbacksReport<Suppressed>, table: CallbackTable): Table {
  switch (table) {
    case 'windows':
      return {
        columns: [
          'interval_start',
          'within',
          'requests',
          'cancelled_before_call',
          'first_call_within_window',
          'share_within_window',
          'first_call_median_s',
          'first_call_p90_s',
          'completion_median_s',
          'completion_p90_s',
          'flagged_no_answer',
          'overdue_now',
        ],
        rows: report.windows.map((w) => [
          w.start,
          w.within,
          w.requests,
          w.cancelledBeforeCall,
          w.withinWindow,
          w.share === null ? null : Math.round(w.share * 1000) / 1000,
          w.firstCall.median,
          w.firstCall.p90,
          w.completion.median,
          w.completion.p90,
          w.flaggedNoAnswer,
          w.overdueNow,
        ]),
      };
    case 'waiting':
      return { columns: ['hour_utc', 'average_waiting', 'peak_waiting'], rows: report.waiting.map((w) => [w.hour, w.average, w.peak]) };
  }
}

/** RFC 4180: every field that holds a comma, quote or line break is quoted, quotes doubled. */
export function csv(table: Table): string {
  const field = (cell: Cell): string => {
    const text = cell === null ? '' : String(cell);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [table.columns, ...table.rows].map((row) => row.map(field).join(',')).join('\r\n') + '\r\n';
}
