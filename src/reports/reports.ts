import { sql, type RawBuilder } from 'kysely';
import { MAX_ATTEMPTS_BEFORE_REVIEW } from '../callbacks/service.js';
import { InvalidReportRange } from '../errors.js';
import { AGE_BANDS, OUTCOME_KINDS, type AgeBand, type OutcomeKind } from '../rulesets/schema.js';
import type { Dialect, Executor } from '../store/schema.js';
import type { Store } from '../store/store.js';
import type { FallbackCause } from '../triage/decide.js';

/**
 * Service reports for whoever runs the service (docs/reports.md): demand, outcomes and
 * callbacks, counted in SQL from the indexed report columns of assessments and callback
 * requests (never from trace bodies), in intervals of UTC days, ISO weeks or months.
 */

export const REPORT_INTERVALS = ['day', 'week', 'month'] as const;
export type ReportInterval = (typeof REPORT_INTERVALS)[number];

export const FALLBACK_CAUSES = ['no_rule_decided', 'engine_error', 'timeout'] as const satisfies readonly FallbackCause[];

/** The longest range one report covers: a year and a day, so a leap year's whole year fits. */
export const MAX_REPORT_DAYS = 366;

/** Share of callback requests that should get their first call within their window (the reports page's target line). */
export const CALLBACK_TARGET_SHARE = 0.9;

/** Counts below this (and above 0) are shown as "<5" in exported reports, as NHS statistics do. */
export const SUPPRESS_BELOW = 5;
export const SUPPRESSED = '<5';

export interface ReportRange {
  /** Inclusive, ISO 8601 UTC. */
  from: string;
  /** Exclusive, ISO 8601 UTC. */
  to: string;
  interval: ReportInterval;
}

export interface OutcomeFilter extends ReportRange {
  /** A topic as the patient picked it. */
  topic?: string;
  /** One pathway (a topic's variant for some age bands). */
  pathwayId?: string;
}

type ByKind<C = number> = Record<OutcomeKind, C>;
type ByCause<C = number> = Record<FallbackCause, C>;

/** Counts are numbers; in the exported form (exportForm) a count from 1 to 4 is "<5". */
export interface OutcomesReport<C = number> {
  range: ReportRange & { timeZone: 'UTC' };
  generatedAt: string;
  abandonedAfterMinutes: number;
  intervals: { start: string; started: C; completed: C; inProgress: C; abandoned: C; outcomes: ByKind<C>; fallbacks: ByCause<C> }[];
  outcomes: { start: string; topicId: string; ageBand: AgeBand; kind: OutcomeKind; disposition: string; count: C }[];
  topics: { topicId: string; ageBand: AgeBand; started: C; completed: C; abandoned: C; fallbacks: C }[];
  fallbacks: { topicId: string; total: C; causes: ByCause<C> }[];
}

export interface Percentiles {
  /** Seconds; null with no request to measure. */
  median: number | null;
  p90: number | null;
}

export interface CallbacksReport<C = number> {
  range: ReportRange & { timeZone: 'UTC' };
  generatedAt: string;
  targetShare: number;
  overdueNow: C;
  windows: {
    start: string;
    within: string;
    requests: C;
    /** Requests cancelled before anyone called: not counted in the share. */
    cancelledBeforeCall: C;
    withinWindow: C;
    /** withinWindow over requests less cancelledBeforeCall; null when that is 0 (or, exported, below 5). */
    share: number | null;
    firstCall: Percentiles;
    completion: Percentiles;
    flaggedNoAnswer: C;
    overdueNow: C;
  }[];
  /** Requests waiting for their first call at the top of each UTC hour, over the days of the range. */
  waiting: { hour: number; average: number; peak: C }[];
}

const DAY_MS = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString();
const count = (value: unknown): number => Number(value ?? 0);
const zeroKinds = (): ByKind => ({ self_care: 0, callback: 0, escalate: 0 });
const zeroCauses = (): ByCause => ({ no_rule_decided: 0, engine_error: 0, timeout: 0 });

/** Checks a range: from before to, at most MAX_REPORT_DAYS apart. */
export function checkRange(range: ReportRange): void {
  const from = Date.parse(range.from);
  const to = Date.parse(range.to);
  if (!(from < to)) {
    throw new InvalidReportRange('`from` must be before `to`', [{ path: ['to'], message: 'must be after from' }]);
  }
  if (to - from > MAX_REPORT_DAYS * DAY_MS) {
    throw new InvalidReportRange(`a report covers at most ${MAX_REPORT_DAYS} days; ask for a shorter range`, [{ path: ['to'], message: `at most ${MAX_REPORT_DAYS} days after from` }]);
  }
}

/** The first day (YYYY-MM-DD) of the UTC interval holding this time. */
export function intervalStart(interval: ReportInterval, at: string): string {
  const day = at.slice(0, 10);
  if (interval === 'day') return day;
  if (interval === 'month') return `${day.slice(0, 7)}-01`;
  const date = new Date(`${day}T00:00:00Z`);
  return iso(date.getTime() - ((date.getUTCDay() + 6) % 7) * DAY_MS).slice(0, 10);
}

/** Every interval the range touches, in order, empty ones included. */
export function intervalStarts(range: ReportRange): string[] {
  const starts: string[] = [];
  const last = intervalStart(range.interval, iso(Date.parse(range.to) - 1));
  let start = intervalStart(range.interval, range.from);
  while (start <= last) {
    starts.push(start);
    const date = new Date(`${start}T00:00:00Z`);
    if (range.interval === 'month') date.setUTCMonth(date.getUTCMonth() + 1);
    else date.setUTCDate(date.getUTCDate() + (range.interval === 'week' ? 7 : 1));
    start = iso(date.getTime()).slice(0, 10);
  }
  return starts;
}

/**
 * The interval a stored time (ISO 8601 text in UTC) falls in, as SQL: its first 10 or 7
 * characters for days and months on both dialects; the Monday of its ISO week otherwise.
 */
function intervalOf(dialect: Dialect, interval: ReportInterval, column: string): RawBuilder<string> {
  const ref = sql.ref(column);
  if (interval === 'day') return sql<string>`substr(${ref}, 1, 10)`;
  if (interval === 'month') return sql<string>`substr(${ref}, 1, 7) || '-01'`;
  return dialect === 'sqlite'
    ? sql<string>`date(substr(${ref}, 1, 10), 'weekday 0', '-6 days')`
    : sql<string>`to_char(substr(${ref}, 1, 10)::date - (extract(isodow from substr(${ref}, 1, 10)::date)::int - 1), 'YYYY-MM-DD')`;
}

/**
 * Whole milliseconds from one stored time to another, as SQL: the times are stored to the
 * millisecond, so this is exact on both dialects, and percentiles of it are exact halves at worst
 * (julianday's days as a double were off by up to 0.05 ms, enough to round a tenth either way).
 */
function millisecondsBetween(dialect: Dialect, from: string, to: string): RawBuilder<number> {
  return dialect === 'sqlite'
    ? sql<number>`round((unixepoch(${sql.ref(to)}, 'subsec') - unixepoch(${sql.ref(from)}, 'subsec')) * 1000)`
    : sql<number>`round(extract(epoch from (${sql.ref(to)}::timestamptz - ${sql.ref(from)}::timestamptz)) * 1000)`;
}

interface OutcomeRow {
  day: string;
  topic_id: string;
  age_band: AgeBand;
  status: string;
  outcome_kind: OutcomeKind | null;
  disposition: string | null;
  fallback_cause: FallbackCause | null;
  abandoned: number | string;
  n: number | string;
}

/**
 * Assessments started in the range, by the interval they started in: started, completed (an
 * outcome now), abandoned (no outcome, and no answer for abandonedAfterMinutes before `now`),
 * in progress (the rest); outcomes by kind and disposition per topic and age band; fallbacks
 * by cause. One read of the report index, grouped by UTC day in the index's own order (no
 * sort on either dialect); days are gathered into weeks and months here.
 */
export async function outcomesReport(db: Executor, filter: OutcomeFilter, now: Date, abandonedAfterMinutes: number): Promise<OutcomesReport> {
  checkRange(filter);
  const idleSince = iso(now.getTime() - abandonedAfterMinutes * 60_000);
  const topic = filter.topic === undefined ? sql`` : sql` and topic_id = ${filter.topic}`;
  const pathway = filter.pathwayId === undefined ? sql`` : sql` and pathway_id = ${filter.pathwayId}`;
  const { rows } = await sql<OutcomeRow>`
    select created_day as day, topic_id, age_band, status, outcome_kind, disposition, fallback_cause,
      sum(case when status = 'in_progress' and updated_at < ${idleSince} then 1 else 0 end) as abandoned, count(*) as n
    from assessments
    where created_day >= ${filter.from.slice(0, 10)} and created_day <= ${iso(Date.parse(filter.to) - 1).slice(0, 10)}
      and created_at >= ${filter.from} and created_at < ${filter.to}${topic}${pathway}
    group by created_day, topic_id, age_band, status, outcome_kind, disposition, fallback_cause`.execute(db);

  const intervals = new Map(intervalStarts(filter).map((start) => [start, { start, started: 0, completed: 0, inProgress: 0, abandoned: 0, outcomes: zeroKinds(), fallbacks: zeroCauses() }]));
  const outcomes = new Map<string, OutcomesReport['outcomes'][number]>();
  const topics = new Map<string, OutcomesReport['topics'][number]>();
  const fallbacks = new Map<string, OutcomesReport['fallbacks'][number]>();
  for (const row of rows) {
    const n = count(row.n);
    const start = intervalStart(filter.interval, row.day);
    const slot = intervals.get(start)!;
    const byTopic = topics.get(`${row.topic_id}\u0000${row.age_band}`) ?? { topicId: row.topic_id, ageBand: row.age_band, started: 0, completed: 0, abandoned: 0, fallbacks: 0 };
    topics.set(`${row.topic_id}\u0000${row.age_band}`, byTopic);
    slot.started += n;
    byTopic.started += n;
    if (row.status === 'complete' && row.outcome_kind && row.disposition) {
      slot.completed += n;
      byTopic.completed += n;
      slot.outcomes[row.outcome_kind] += n;
      const key = [start, row.topic_id, row.age_band, row.outcome_kind, row.disposition].join('\u0000');
      const cell = outcomes.get(key) ?? { start, topicId: row.topic_id, ageBand: row.age_band, kind: row.outcome_kind, disposition: row.disposition, count: 0 };
      cell.count += n;
      outcomes.set(key, cell);
      if (row.fallback_cause) {
        slot.fallbacks[row.fallback_cause] += n;
        byTopic.fallbacks += n;
        const fallback = fallbacks.get(row.topic_id) ?? { topicId: row.topic_id, total: 0, causes: zeroCauses() };
        fallback.total += n;
        fallback.causes[row.fallback_cause] += n;
        fallbacks.set(row.topic_id, fallback);
      }
    } else {
      const abandoned = count(row.abandoned);
      slot.abandoned += abandoned;
      byTopic.abandoned += abandoned;
      slot.inProgress += n - abandoned;
    }
  }
  const bandOrder = (band: AgeBand): number => AGE_BANDS.indexOf(band);
  return {
    range: { from: filter.from, to: filter.to, interval: filter.interval, timeZone: 'UTC' },
    generatedAt: now.toISOString(),
    abandonedAfterMinutes,
    intervals: [...intervals.values()],
    outcomes: [...outcomes.values()].sort(
      (a, b) =>
        cmp(a.start, b.start) || cmp(a.topicId, b.topicId) || bandOrder(a.ageBand) - bandOrder(b.ageBand) || OUTCOME_KINDS.indexOf(a.kind) - OUTCOME_KINDS.indexOf(b.kind) || cmp(a.disposition, b.disposition),
    ),
    topics: [...topics.values()].sort((a, b) => cmp(a.topicId, b.topicId) || bandOrder(a.ageBand) - bandOrder(b.ageBand)),
    fallbacks: [...fallbacks.values()].sort((a, b) => b.total - a.total || cmp(a.topicId, b.topicId)),
  };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

interface WindowRow {
  start: string;
  within: string;
  requests: number | string;
  cancelled_before_call: number | string;
  within_window: number | string;
  flagged: number | string;
  overdue: number | string;
}

interface TimingRow {
  start: string;
  within: string;
  measure: 'first_call' | 'completion';
  /** Milliseconds. */
  median: number | string | null;
  p90: number | string | null;
}

/**
 * The median and 90th percentile of the seconds from request to first call (or to completion),
 * per interval and window: percentile_cont (linear interpolation) on both dialects, in
 * PostgreSQL's ordered-set form and SQLite's two-argument form (its percentile extension,
 * compiled into better-sqlite3). One query a measure, so each sorts half as much.
 */
async function callbackTimings(db: Executor, dialect: Dialect, range: ReportRange, measure: TimingRow['measure']): Promise<TimingRow[]> {
  const [end, only] = measure === 'first_call' ? ['first_attempt_at', sql`first_attempt_at is not null`] : ['completed_at', sql`status = 'completed'`];
  const ms = millisecondsBetween(dialect, 'created_at', end);
  const percentile = (p: number): RawBuilder<number> => (dialect === 'postgres' ? sql<number>`percentile_cont(${sql.lit(p)}) within group (order by ${ms})` : sql<number>`percentile_cont(${ms}, ${sql.lit(p)})`);
  const { rows } = await sql<Omit<TimingRow, 'measure'>>`
    select ${intervalOf(dialect, range.interval, 'created_at')} as start, within, ${percentile(0.5)} as median, ${percentile(0.9)} as p90
    from callback_requests where created_at >= ${range.from} and created_at < ${range.to} and ${only}
    group by 1, 2`.execute(db);
  return rows.map((r) => ({ ...r, measure }));
}

/** Milliseconds as seconds to the tenth: finer than any callback window needs, and equal on both dialects. */
const seconds = (ms: number | string | null | undefined): number | null => (ms === null || ms === undefined ? null : Math.round(Number(ms) / 100) / 10);

/**
 * Callback requests made in the range, per interval and urgency window (`within`): requests,
 * first calls within the window (the first call, answered or not, at or before the due time),
 * the share, times to first call and completion, requests flagged after unanswered calls, and
 * those open past their due time now; and the requests waiting for a first call through the day.
 */
export async function callbacksReport(db: Executor, dialect: Dialect, range: ReportRange, now: Date): Promise<CallbacksReport> {
  checkRange(range);
  const nowIso = now.toISOString();
  // Independent queries, sent together: on PostgreSQL they run on connections of their own.
  const [{ rows }, firstCalls, completions, { overdue }, waiting] = await Promise.all([
    sql<WindowRow>`
    select ${intervalOf(dialect, range.interval, 'created_at')} as start, within, count(*) as requests,
      sum(case when status = 'cancelled' and first_attempt_at is null then 1 else 0 end) as cancelled_before_call,
      sum(case when first_attempt_at is not null and first_attempt_at <= due_at then 1 else 0 end) as within_window,
      sum(case when attempts >= ${MAX_ATTEMPTS_BEFORE_REVIEW} then 1 else 0 end) as flagged,
      sum(case when status in ('waiting', 'claimed') and due_at < ${nowIso} then 1 else 0 end) as overdue
    from callback_requests
    where created_at >= ${range.from} and created_at < ${range.to}
    group by 1, 2`.execute(db),
    callbackTimings(db, dialect, range, 'first_call'),
    callbackTimings(db, dialect, range, 'completion'),
    db
      .selectFrom('callback_requests')
      .select((eb) => eb.fn.countAll().as('overdue'))
      .where('status', 'in', ['waiting', 'claimed'])
      .where('due_at', '<', nowIso)
      .executeTakeFirstOrThrow(),
    waitingThroughTheDay(db, range, now),
  ]);
  const timings = new Map([...firstCalls, ...completions].map((t) => [`${t.start}\u0000${t.within}\u0000${t.measure}`, t]));
  const timing = (start: string, within: string, measure: TimingRow['measure']): Percentiles => {
    const t = timings.get(`${start}\u0000${within}\u0000${measure}`);
    return { median: seconds(t?.median), p90: seconds(t?.p90) };
  };
  const windows = rows
    .map((r) => {
      const requests = count(r.requests);
      const cancelledBeforeCall = count(r.cancelled_before_call);
      const withinWindow = count(r.within_window);
      const eligible = requests - cancelledBeforeCall;
      return {
        start: r.start,
        within: r.within,
        requests,
        cancelledBeforeCall,
        withinWindow,
        share: eligible > 0 ? withinWindow / eligible : null,
        firstCall: timing(r.start, r.within, 'first_call'),
        completion: timing(r.start, r.within, 'completion'),
        flaggedNoAnswer: count(r.flagged),
        overdueNow: count(r.overdue),
      };
    })
    .sort((a, b) => cmp(a.start, b.start) || cmp(a.within, b.within));
  return {
    range: { ...range, timeZone: 'UTC' },
    generatedAt: nowIso,
    targetShare: CALLBACK_TARGET_SHARE,
    overdueNow: count(overdue),
    windows,
    waiting,
  };
}

/**
 * Requests waiting for a first call (from the request to the first call, or to its closing
 * without one) at the top of each UTC hour of the range up to now, averaged and maxed by hour
 * of day. Counted from arrivals and departures per hour and the number waiting as the range
 * began, each from a range of an index (callbacks_report by request time, callbacks_ended by the
 * time the wait ended), so the work grows with the range, not with the history before it.
 */
async function waitingThroughTheDay(db: Executor, range: ReportRange, now: Date): Promise<CallbacksReport['waiting']> {
  const ended = sql<string | null>`coalesce(first_attempt_at, completed_at)`;
  const [arrivals, departures, before] = await Promise.all([
    sql<{ hour: string; n: number | string }>`
      select substr(created_at, 1, 13) as hour, count(*) as n from callback_requests
      where created_at >= ${range.from} and created_at < ${range.to} group by 1`.execute(db),
    sql<{ hour: string; n: number | string }>`
      select substr(${ended}, 1, 13) as hour, count(*) as n from callback_requests
      where created_at < ${range.to} and ${ended} >= ${range.from} and ${ended} < ${range.to} group by 1`.execute(db),
    // Two ranges of the callbacks_ended index rather than one "or", which would read every
    // request made before the range.
    sql<{ n: number | string }>`
      select (select count(*) from callback_requests where ${ended} is null and created_at < ${range.from})
        + (select count(*) from callback_requests where ${ended} >= ${range.from} and created_at < ${range.from}) as n`.execute(db),
  ]);
  const byHour = (rows: { hour: string; n: number | string }[]): Map<string, number> => new Map(rows.map((r) => [r.hour, count(r.n)]));
  const came = byHour(arrivals.rows);
  const left = byHour(departures.rows);
  const sums = Array.from({ length: 24 }, () => ({ total: 0, samples: 0, peak: 0 }));
  // The top of the first whole hour at or after `from`; hours before it are counted into `waiting`.
  const first = Math.ceil(Date.parse(range.from) / 3_600_000) * 3_600_000;
  const last = Math.min(Date.parse(range.to), now.getTime());
  let waiting = count(before.rows[0]?.n);
  let hourStart = Date.parse(range.from);
  for (let top = first; top < last; top += 3_600_000) {
    // Everything that came or left between the previous sample and this one.
    for (let h = Math.floor(hourStart / 3_600_000) * 3_600_000; h < top; h += 3_600_000) {
      const key = iso(h).slice(0, 13);
      waiting += (came.get(key) ?? 0) - (left.get(key) ?? 0);
    }
    hourStart = top;
    const slot = sums[new Date(top).getUTCHours()]!;
    slot.total += waiting;
    slot.samples += 1;
    slot.peak = Math.max(slot.peak, waiting);
  }
  return sums.map((s, hour) => ({ hour, average: s.samples ? Math.round((s.total / s.samples) * 10) / 10 : 0, peak: s.peak }));
}

/** The reports as the routes ask for them: on the store's read handle, at the service's clock. */
export interface ReportService {
  outcomes(filter: OutcomeFilter): Promise<OutcomesReport>;
  callbacks(range: ReportRange): Promise<CallbacksReport>;
}

export function reportService(store: Pick<Store, 'read' | 'dialect'>, options: { abandonedAfterMinutes: number; now?: () => Date }): ReportService {
  const clock = options.now ?? (() => new Date());
  return {
    outcomes: (filter) => outcomesReport(store.read, filter, clock(), options.abandonedAfterMinutes),
    callbacks: (range) => callbacksReport(store.read, store.dialect, range, clock()),
  };
}
