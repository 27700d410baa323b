// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import t from 'tap';
import { ESCALATE, patient, requested, ROUTINE, setup, URGENT, assessment } from '../callbacks/walks.js';
import { sql } from 'kysely';
import { reportService } from '../../src/reports/reports.js';
import { openStore } from '../../src/store/store.js';
import { asHandler, BUNDLED_RULES, databaseUrlOf, get, post, STAFF, withRawDatabase } from '../helpers.js';

/**
 * The reports against counts worked out here, in plain JavaScript, from what the test seeded
 * through the API: every figure of both reports, on each dialect, and the exported form's
 * small-number suppression in JSON and CSV.
 */
// Several topics and age bands: the bundled rules.
const { app, clock } = await setup(t, BUNDLED_RULES);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const band = (age: number): string => (age < 5 ? 'under5' : age < 16 ? 'child' : 'adult');
// The later of the two days seeded: the day 12 hours ago, so that its 9 o'clock rows are hours in the
// past whenever the suite runs (just after midnight, today's would still be to come).
const today = Date.parse(`${day(clock.now().getTime() - 12 * HOUR)}T00:00:00Z`);

interface Seeded {
  id: string;
  topic: string;
  ageYears: number;
  outcome: { kind: string; disposition: string; ruleId: string | null } | null;
  createdAt: string;
  updatedAt: string;
}
const seeded: Seeded[] = [];

/** Seeding runs before the tests: a step that goes wrong stops the file. */
function expect(ok: boolean, what: string): void {
  if (!ok) throw new Error(`seeding failed: ${what}`);
}

async function walk(answers: Record<string, unknown>, who = patient): Promise<string> {
  const id = await assessment(app, answers, who);
  await remember(id, 'chest-pain', who.ageYears);
  return id;
}

async function remember(id: string, topic: string, ageYears: number): Promise<void> {
  const view = (await get(app, `/v1/assessments/${id}`)).body;
  seeded.push({ id, topic, ageYears, outcome: view.status === 'complete' ? view.outcome : null, createdAt: '', updatedAt: '' });
}

/** Started, one question shown, never answered. */
async function started(topic: string, ageYears: number): Promise<void> {
  const res = await post(app, '/v1/assessments', { pathwayId: topic, patient: { ageYears, sex: 'female' } });
  expect(res.status === 201, `${topic} started: ${res.status}`);
  seeded.push({ id: res.body.id, topic, ageYears, outcome: null, createdAt: '', updatedAt: '' });
}

// A muscle-like pain from today in someone over 40: no rule decides, the fallback does.
const FALLBACK = { ...URGENT, pain_now: true, pain_feel: 'aching_tender', worse_on_pressing: true };
const callbacks: { id: string }[] = [];
for (const answers of [URGENT, URGENT, URGENT, ROUTINE, ROUTINE]) {
  const { assessmentId, cb } = await requested(app, answers);
  await remember(assessmentId, 'chest-pain', patient.ageYears);
  callbacks.push(cb);
}
for (const answers of [ESCALATE, ESCALATE, URGENT]) await walk(answers);
for (let i = 0; i < 2; i++) await walk(FALLBACK, { ageYears: 45, sex: 'male' });
await started('abdominal-pain', 8);
await started('abdominal-pain', 8);
await started('abdominal-pain', 2);
await started('back-pain', 60);

// Placed in time: that day and the day before, minutes apart, each answered a minute after it began.
// Rows are moved behind the service's back; the expected figures use the same times.
await withRawDatabase(databaseUrlOf(app), async (db) => {
  for (const [i, a] of seeded.entries()) {
    const at = (i % 3 === 0 ? today - DAY : today) + 9 * HOUR + i * 60_000;
    a.createdAt = new Date(at).toISOString();
    a.updatedAt = new Date(at + 60_000).toISOString();
    await db
      .updateTable('assessments')
      .set({ created_at: a.createdAt, created_day: a.createdAt.slice(0, 10), updated_at: a.updatedAt })
      .where('id', '=', a.id)
      .execute();
  }
});

// The queue at work: first calls at different delays, one completed, one with three unanswered calls.
const act = (i: number, id: string, action: string, body: unknown = {}) => post(app, `/v1/callbacks/${id}/${action}`, body, asHandler(i));
async function call(id: string, after: number, then: 'attempt' | 'complete'): Promise<void> {
  clock.advance(after);
  expect((await act(0, id, 'claim')).status === 200, 'claimed');
  const res = then === 'attempt' ? await act(0, id, 'attempts') : await act(0, id, 'complete', { outcome: 'advice_given', notes: 'spoke to patient' });
  expect(res.status === 200, `${then}: ${res.status}`);
}
await call(callbacks[0]!.id, 300, 'attempt');
await call(callbacks[0]!.id, 600, 'complete');
await call(callbacks[1]!.id, 120, 'attempt');
await call(callbacks[1]!.id, 60, 'attempt');
await call(callbacks[1]!.id, 60, 'attempt');
await call(callbacks[3]!.id, 1800, 'complete');
// Past the 1-hour window of the urgent ones still waiting, and past every assessment's idle limit.
clock.advance(2 * 3600);
await call(callbacks[2]!.id, 60, 'attempt');

const from = day(today - DAY);
const to = day(today + DAY);
const now = clock.now().getTime();
// The queue's range reaches past the moved clock, so the hours the requests waited through are in it.
const queueTo = day(now + DAY);

/**
 * percentile_cont of durations in whole milliseconds (linear interpolation between the values
 * ranked around p × (n - 1)), in seconds to the tenth: exact, so a median that falls on a
 * twentieth of a second rounds the same way here as in the report.
 */
function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = p * (sorted.length - 1);
  const lo = sorted[Math.floor(at)]!;
  const hi = sorted[Math.ceil(at)]!;
  return Math.round((lo + (hi - lo) * (at - Math.floor(at))) / 100) / 10;
}

t.test('the outcomes report counts what was seeded, by day, topic, age band, kind, disposition and cause', async (t) => {
  const res = await get(app, `/v1/reports/outcomes?from=${from}&to=${to}&interval=day`, STAFF.auditor);
  t.equal(res.status, 200);
  const report = res.body;
  t.same(report.range, { from: `${from}T00:00:00.000Z`, to: `${to}T00:00:00.000Z`, interval: 'day', timeZone: 'UTC' });

  const idleSince = now - 60 * 60_000;
  const expectedIntervals = [from, day(today)].map((start) => {
    const mine = seeded.filter((a) => a.createdAt.slice(0, 10) === start);
    const done = mine.filter((a) => a.outcome);
    const open = mine.filter((a) => !a.outcome);
    const kinds = (kind: string) => done.filter((a) => a.outcome!.kind === kind).length;
    return {
      start,
      started: mine.length,
      completed: done.length,
      inProgress: open.filter((a) => Date.parse(a.updatedAt) >= idleSince).length,
      abandoned: open.filter((a) => Date.parse(a.updatedAt) < idleSince).length,
      outcomes: { self_care: kinds('self_care'), callback: kinds('callback'), escalate: kinds('escalate') },
      fallbacks: { no_rule_decided: done.filter((a) => a.outcome!.ruleId === null).length, engine_error: 0, timeout: 0 },
    };
  });
  t.same(report.intervals, expectedIntervals, 'per day');
  t.equal(expectedIntervals[0]!.started + expectedIntervals[1]!.started, seeded.length);
  t.ok(
    expectedIntervals.every((i) => i.abandoned > 0 && i.completed > 0),
    'both days have outcomes and abandoned assessments',
  );

  const cube = new Map<string, number>();
  for (const a of seeded.filter((s) => s.outcome)) {
    const key = [a.createdAt.slice(0, 10), a.topic, band(a.ageYears), a.outcome!.kind, a.outcome!.disposition].join('|');
    cube.set(key, (cube.get(key) ?? 0) + 1);
  }
  const got = new Map(
    (report.outcomes as { start: string; topicId: string; ageBand: string; kind: string; disposition: string; count: number }[]).map((o) => [
      [o.start, o.topicId, o.ageBand, o.kind, o.disposition].join('|'),
      o.count,
    ]),
  );
  t.same(Object.fromEntries(got), Object.fromEntries(cube), 'outcomes by day, topic, age band, kind and disposition');

  const topics = new Map<string, { started: number; completed: number; abandoned: number; fallbacks: number }>();
  for (const a of seeded) {
    const key = `${a.topic}|${band(a.ageYears)}`;
    const row = topics.get(key) ?? { started: 0, completed: 0, abandoned: 0, fallbacks: 0 };
    row.started += 1;
    if (a.outcome) row.completed += 1;
    if (!a.outcome && Date.parse(a.updatedAt) < idleSince) row.abandoned += 1;
    if (a.outcome?.ruleId === null) row.fallbacks += 1;
    topics.set(key, row);
  }
  t.same(
    Object.fromEntries((report.topics as { topicId: string; ageBand: string }[]).map(({ topicId, ageBand, ...rest }) => [`${topicId}|${ageBand}`, rest])),
    Object.fromEntries(topics),
    'per topic and age band: abdominal-pain has a child and an under-5 row',
  );
  t.same(report.fallbacks, [{ topicId: 'chest-pain', total: 2, causes: { no_rule_decided: 2, engine_error: 0, timeout: 0 } }]);

  const one = (await get(app, `/v1/reports/outcomes?from=${from}&to=${to}&topic=abdominal-pain`, STAFF.clinician)).body;
  t.same(
    one.intervals.map((i: { started: number }) => i.started),
    [from, day(today)].map((d) => seeded.filter((a) => a.topic === 'abdominal-pain' && a.createdAt.startsWith(d)).length),
    'the topic filter',
  );
  const week = (await get(app, `/v1/reports/outcomes?from=${from}&to=${to}&interval=week`, STAFF.admin)).body;
  t.equal(
    week.intervals.reduce((n: number, i: { started: number }) => n + i.started, 0),
    seeded.length,
    'by ISO week: every assessment once',
  );
  t.ok(
    week.intervals.every((i: { start: string }) => new Date(`${i.start}T00:00:00Z`).getUTCDay() === 1),
    'weeks start on Monday',
  );
});

t.test('the callbacks report counts what the queue did, per urgency window', async (t) => {
  const res = await get(app, `/v1/reports/callbacks?from=${from}&to=${queueTo}`, STAFF.clinician);
  t.equal(res.status, 200);
  const details = await Promise.all(callbacks.map(async (c) => (await get(app, `/v1/callbacks/${c.id}`, STAFF.clinician)).body));
  const byWindow = new Map<string, typeof details>();
  for (const d of details) byWindow.set(`${d.createdAt.slice(0, 10)}|${d.within}`, [...(byWindow.get(`${d.createdAt.slice(0, 10)}|${d.within}`) ?? []), d]);
  const firstCall = (d: (typeof details)[number]): string | undefined => d.history.find((e: { action: string }) => e.action === 'attempt' || e.action === 'complete')?.at;
  const msFrom = (a: string, b: string) => Date.parse(b) - Date.parse(a);
  const expected = [...byWindow].map(([key, ds]) => {
    const [start, within] = key.split('|');
    const called = ds.filter((d) => firstCall(d));
    const withinWindow = called.filter((d) => firstCall(d)! <= d.dueAt).length;
    const completed = ds.filter((d) => d.status === 'completed');
    return {
      start,
      within,
      requests: ds.length,
      cancelledBeforeCall: 0,
      withinWindow,
      share: withinWindow / ds.length,
      firstCall: {
        median: percentile(
          called.map((d) => msFrom(d.createdAt, firstCall(d)!)),
          0.5,
        ),
        p90: percentile(
          called.map((d) => msFrom(d.createdAt, firstCall(d)!)),
          0.9,
        ),
      },
      completion: {
        median: percentile(
          completed.map((d) => msFrom(d.createdAt, d.completion.at)),
          0.5,
        ),
        p90: percentile(
          completed.map((d) => msFrom(d.createdAt, d.completion.at)),
          0.9,
        ),
      },
      flaggedNoAnswer: ds.filter((d) => d.attempts >= 3).length,
      overdueNow: ds.filter((d) => ['waiting', 'claimed'].includes(d.status) && Date.parse(d.dueAt) < now).length,
    };
  });
  t.same(res.body.windows, expected);
  t.ok(
    expected.some((w) => w.withinWindow > 0 && w.withinWindow < w.requests),
    'some first calls in the window, some not',
  );
  t.ok(expected.some((w) => w.flaggedNoAnswer === 1 && w.overdueNow > 0));
  t.equal(res.body.overdueNow, details.filter((d) => ['waiting', 'claimed'].includes(d.status) && Date.parse(d.dueAt) < now).length);

  // Waiting for a first call at the top of each hour, from the requests' own times.
  const samples = new Map<number, number[]>();
  for (let top = Math.ceil(Date.parse(`${from}T00:00:00Z`) / HOUR) * HOUR; top < Math.min(Date.parse(`${queueTo}T00:00:00Z`), now); top += HOUR) {
    const waiting = details.filter((d) => Date.parse(d.createdAt) < top && (!(firstCall(d) ?? d.completion?.at) || Date.parse((firstCall(d) ?? d.completion?.at)!) >= top)).length;
    const hour = new Date(top).getUTCHours();
    samples.set(hour, [...(samples.get(hour) ?? []), waiting]);
  }
  const waiting = Array.from({ length: 24 }, (_, hour) => {
    const s = samples.get(hour) ?? [];
    return { hour, average: s.length ? Math.round((s.reduce((a, b) => a + b, 0) / s.length) * 10) / 10 : 0, peak: Math.max(0, ...s) };
  });
  t.same(res.body.waiting, waiting, 'waiting through the day');
  t.ok(
    waiting.some((w) => w.peak > 0),
    'someone was waiting at some hour',
  );
});

t.test('exported reports show counts from 1 to 4 as "<5", in JSON and CSV', async (t) => {
  const exact = (await get(app, `/v1/reports/outcomes?from=${from}&to=${to}`, STAFF.auditor)).body;
  const exported = (await get(app, `/v1/reports/outcomes?from=${from}&to=${to}&suppress=true`, STAFF.auditor)).body;
  const shown = (n: number) => (n >= 1 && n <= 4 ? '<5' : n);
  t.same(
    exported.intervals.map((i: { started: unknown; completed: unknown; abandoned: unknown }) => [i.started, i.completed, i.abandoned]),
    exact.intervals.map((i: { started: number; completed: number; abandoned: number }) => [shown(i.started), shown(i.completed), shown(i.abandoned)]),
  );
  t.same(
    exported.outcomes.map((o: { count: unknown }) => o.count),
    exact.outcomes.map((o: { count: number }) => shown(o.count)),
  );
  t.ok(
    exported.outcomes.some((o: { count: unknown }) => o.count === '<5'),
    'small cells are suppressed',
  );
  t.ok(
    exact.intervals.some((i: { started: number }) => i.started >= 5),
    'a count of 5 or more is kept',
  );
  t.ok(
    exported.intervals.some((i: { fallbacks: { engine_error: unknown } }) => i.fallbacks.engine_error === 0),
    'zero stays 0',
  );

  const csv = await app.inject({ method: 'GET', url: `/v1/reports/outcomes.csv?from=${from}&to=${to}&table=intervals`, headers: STAFF.auditor });
  t.equal(csv.statusCode, 200);
  t.match(csv.headers['content-type'], /^text\/csv/);
  const [header, ...lines] = csv.body.trim().split('\r\n');
  t.equal(header, 'interval_start,started,completed,in_progress,abandoned,self_care,callback,escalate,fallback_no_rule_decided,fallback_engine_error,fallback_timeout');
  t.same(
    lines,
    exact.intervals.map((i: { start: string; started: number; completed: number; inProgress: number; abandoned: number; outcomes: Record<string, number>; fallbacks: Record<string, number> }) =>
      [i.start, i.started, i.completed, i.inProgress, i.abandoned, i.outcomes.self_care, i.outcomes.callback, i.outcomes.escalate, i.fallbacks.no_rule_decided, i.fallbacks.engine_error, i.fallbacks.timeout]
        .map((n) => (typeof n === 'number' ? shown(n) : n))
        .join(','),
    ),
  );

  const cbExact = (await get(app, `/v1/reports/callbacks?from=${from}&to=${to}`, STAFF.auditor)).body;
  const cbExported = (await get(app, `/v1/reports/callbacks?from=${from}&to=${to}&suppress=true`, STAFF.auditor)).body;
  for (const [i, w] of cbExported.windows.entries()) {
    t.equal(w.requests, shown(cbExact.windows[i].requests));
    t.same([w.share, w.firstCall.median], cbExact.windows[i].requests < 5 ? [null, null] : [cbExact.windows[i].share, cbExact.windows[i].firstCall.median], 'nothing computed from fewer than 5 requests');
  }
  const cbCsv = await app.inject({ method: 'GET', url: `/v1/reports/callbacks.csv?from=${from}&to=${to}&table=windows`, headers: STAFF.auditor });
  t.equal(cbCsv.statusCode, 200);
  t.notMatch(cbCsv.body, /Ada|07700/, 'no contact details');
  t.equal(cbCsv.body.trim().split('\r\n').length, cbExact.windows.length + 1);
});

t.test('bad ranges are a 400 problem, never a 500', async (t) => {
  for (const [query, detail] of [
    [`from=${to}&to=${from}`, /from.*before.*to/],
    ['from=2026-01-01&to=2027-06-01', /at most 366 days/],
    ['from=2026-01-01&to=2026-02-01&interval=hour', /interval/],
    ['from=yesterday&to=2026-02-01', /from/],
    ['to=2026-02-01', /from/],
  ] as const) {
    const res = await get(app, `/v1/reports/outcomes?${query}`, STAFF.auditor);
    t.equal(res.status, 400, query);
    t.match(res.headers['content-type'], /application\/problem\+json/);
    t.match(JSON.stringify(res.body), detail, query);
  }
  t.equal((await get(app, `/v1/reports/callbacks?from=${from}&to=${to}`, STAFF['call-handler'])).status, 403, 'call handlers do not read reports');
});

t.test('a database from before the report columns gets them filled in: the same figures after the migration', async (t) => {
  const range = { from: `${from}T00:00:00.000Z`, to: `${to}T00:00:00.000Z`, interval: 'day' } as const;
  const url = databaseUrlOf(app);
  const [outcomes, callbacks] = await Promise.all([get(app, `/v1/reports/outcomes?from=${from}&to=${to}`, STAFF.auditor), get(app, `/v1/reports/callbacks?from=${from}&to=${to}`, STAFF.auditor)]);
  // The database as it was before: the report migrations undone, their columns and indexes gone
  // (and the migration named after them: Kysely applies migrations in name order only).
  await withRawDatabase(url, async (db) => {
    await sql`delete from kysely_migration where name like '2026-12-07-rep-%' or name like '2026-12-08-trc-%'`.execute(db);
    await db.schema.alterTable('traces').dropColumn('packed').execute();
    for (const index of ['assessments_report', 'callbacks_report', 'callbacks_ended']) await db.schema.dropIndex(index).execute();
    for (const column of ['created_day', 'topic_id', 'age_band', 'outcome_kind', 'disposition', 'fallback_cause']) await db.schema.alterTable('assessments').dropColumn(column).execute();
    await db.schema.alterTable('callback_requests').dropColumn('first_attempt_at').execute();
  });
  const store = await openStore(url);
  t.teardown(() => store.close());
  const reports = reportService(store, { abandonedAfterMinutes: 60, now: clock.now });
  const [filled, filledCallbacks] = await Promise.all([reports.outcomes(range), reports.callbacks(range)]);
  const { generatedAt: _a, ...callbacksBefore } = callbacks.body;
  const { generatedAt: _b, ...callbacksAfter } = filledCallbacks;
  t.same(callbacksAfter, callbacksBefore, 'every callbacks figure, first calls taken from the queue events');
  t.same(filled.intervals, outcomes.body.intervals, 'starts, completions, outcomes and fallbacks per day');
  // The topic was the pathway before topics had variants: a child's tummy pain counts under its pathway.
  const byKind = (cells: { kind: string; disposition: string; count: number }[]): Record<string, number> =>
    cells.reduce<Record<string, number>>((sum, c) => ({ ...sum, [`${c.kind} ${c.disposition}`]: (sum[`${c.kind} ${c.disposition}`] ?? 0) + c.count }), {});
  t.same(byKind(filled.outcomes), byKind(outcomes.body.outcomes), 'outcomes by kind and disposition');
  t.same(
    filled.topics.map((x) => `${x.topicId} ${x.ageBand}`),
    ['abdominal-pain-child child', 'abdominal-pain-child under5', 'back-pain adult', 'chest-pain adult'],
  );
});
