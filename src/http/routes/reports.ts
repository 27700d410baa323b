import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { z } from 'zod';
import { AGE_BANDS, OUTCOME_KINDS } from '../../rulesets/schema.js';
import { CALLBACK_TABLES, callbackTable, csv, exportCallbacks, exportOutcomes, OUTCOME_TABLES, outcomeTable } from '../../reports/export.js';
import { FALLBACK_CAUSES, MAX_REPORT_DAYS, REPORT_INTERVALS, SUPPRESSED } from '../../reports/reports.js';
import { problems } from '../schemas.js';

/** A day (its midnight UTC) or a time in UTC, stored times' own format once parsed, so they compare as text. */
const When = z
  .union([z.iso.date(), z.iso.datetime()])
  .transform((value) => new Date(value.length === 10 ? `${value}T00:00:00Z` : value).toISOString())
  .describe('A date (YYYY-MM-DD, midnight UTC) or an ISO 8601 time in UTC');

const Range = z.strictObject({
  from: When.describe('Inclusive: a date (YYYY-MM-DD, midnight UTC) or an ISO 8601 time in UTC'),
  to: When.describe(`Exclusive; at most ${MAX_REPORT_DAYS} days after from`),
  interval: z.enum(REPORT_INTERVALS).default('day').describe('UTC days, ISO weeks (from Monday) or calendar months'),
});

const Filters = Range.extend({
  topic: z.string().max(100).optional().describe('Only assessments started on this topic'),
  pathwayId: z.string().max(100).optional().describe('Only assessments on this pathway (one variant of a topic)'),
});

const ExportForm = z.enum(['true', 'false']).default('false').describe('true: the exported form, with every count from 1 to 4 as "<5", and shares and percentiles of fewer than 5 requests left out');

/** A count; "<5" in the exported form for 1 to 4. */
const Count = z.union([z.number().int().min(0), z.literal(SUPPRESSED)]);
const ByKind = z.object(Object.fromEntries(OUTCOME_KINDS.map((k) => [k, Count])) as Record<(typeof OUTCOME_KINDS)[number], typeof Count>);
const ByCause = z.object(Object.fromEntries(FALLBACK_CAUSES.map((c) => [c, Count])) as Record<(typeof FALLBACK_CAUSES)[number], typeof Count>);
const ReportRangeSchema = z.object({ from: z.string(), to: z.string(), interval: z.enum(REPORT_INTERVALS), timeZone: z.literal('UTC') });
const Seconds = z.number().nullable();

const OutcomesReportSchema = z
  .object({
    range: ReportRangeSchema,
    generatedAt: z.string(),
    abandonedAfterMinutes: z.number().int().describe('An assessment with no outcome counts as abandoned after this long without an answer'),
    intervals: z.array(
      z.object({
        start: z.string().describe('First day of the interval (YYYY-MM-DD, UTC)'),
        started: Count,
        completed: Count,
        inProgress: Count,
        abandoned: Count,
        outcomes: ByKind,
        fallbacks: ByCause.describe("Outcomes decided by the pathway's fallback, by cause"),
      }),
    ),
    outcomes: z.array(z.object({ start: z.string(), topicId: z.string(), ageBand: z.enum(AGE_BANDS), kind: z.enum(OUTCOME_KINDS), disposition: z.string(), count: Count })),
    topics: z.array(z.object({ topicId: z.string(), ageBand: z.enum(AGE_BANDS), started: Count, completed: Count, abandoned: Count, fallbacks: Count })),
    fallbacks: z.array(z.object({ topicId: z.string(), total: Count, causes: ByCause })).describe('Topics by fallbacks, most first'),
  })
  .meta({ id: 'OutcomesReport' });

const PercentilesSchema = z.object({ median: Seconds, p90: Seconds }).describe('Seconds from the request; null with nothing to measure');

const CallbacksReportSchema = z
  .object({
    range: ReportRangeSchema,
    generatedAt: z.string(),
    targetShare: z.number().describe('The share of requests that should have their first call within their window'),
    overdueNow: Count.describe('Open requests past their due time, whenever made'),
    windows: z.array(
      z.object({
        start: z.string(),
        within: z.string().describe('The urgency window (ISO 8601 duration)'),
        requests: Count,
        cancelledBeforeCall: Count,
        withinWindow: Count.describe('First call (answered or not) at or before the due time'),
        share: z.number().nullable().describe('withinWindow / (requests - cancelledBeforeCall)'),
        firstCall: PercentilesSchema,
        completion: PercentilesSchema,
        flaggedNoAnswer: Count.describe('Requests with three unanswered calls'),
        overdueNow: Count,
      }),
    ),
    waiting: z.array(z.object({ hour: z.number().int(), average: z.number(), peak: Count })).describe('Requests waiting for a first call at the top of each UTC hour of the day'),
  })
  .meta({ id: 'CallbacksReport' });

const CSV = { 200: z.string().describe('text/csv; charset=utf-8, exported form'), ...problems(400, 401, 403) };

/** Service reports for the staff who answer for the service (docs/reports.md): counts only, never personal data. */
const reports: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/reports/outcomes',
    {
      schema: {
        tags: ['reports'],
        operationId: 'getOutcomesReport',
        description: 'Counts from the indexed report columns, in UTC intervals; `suppress=true` gives the exported form (counts 1 to 4 as "<5"). See docs/reports.md.',
        summary: 'Assessments started, completed and abandoned; outcomes by kind and disposition per topic and age band; fallbacks by cause; per interval',
        querystring: Filters.extend({ suppress: ExportForm }),
        response: { 200: OutcomesReportSchema, ...problems(400, 401, 403) },
      },
    },
    async (request) => {
      const { suppress, ...filter } = request.query;
      const report = await app.reports.outcomes(filter);
      return suppress === 'true' ? exportOutcomes(report) : report;
    },
  );

  app.get(
    '/reports/callbacks',
    {
      schema: {
        tags: ['reports'],
        operationId: 'getCallbacksReport',
        description: 'Per urgency window, in UTC intervals; median and 90th percentile of the seconds to the first call and to completion. `suppress=true` gives the exported form. See docs/reports.md.',
        summary: 'Callback requests per urgency window and interval: made, first call within window, times to first call and completion, flagged, overdue; waiting through the day',
        querystring: Range.extend({ suppress: ExportForm }),
        response: { 200: CallbacksReportSchema, ...problems(400, 401, 403) },
      },
    },
    async (request) => {
      const { suppress, ...range } = request.query;
      const report = await app.reports.callbacks(range);
      return suppress === 'true' ? exportCallbacks(report) : report;
    },
  );

  app.get(
    '/reports/outcomes.csv',
    {
      schema: {
        tags: ['reports'],
        operationId: 'getOutcomesReportCsv',
        produces: ['text/csv'],
        description: 'Always in the exported form: small numbers suppressed, no personal data or free text.',
        summary: 'One table of the outcomes report as CSV, in the exported form (counts from 1 to 4 as "<5")',
        querystring: Filters.extend({ table: z.enum(OUTCOME_TABLES) }),
        response: CSV,
      },
    },
    async (request, reply) => {
      const { table, ...filter } = request.query;
      const text = csv(outcomeTable(exportOutcomes(await app.reports.outcomes(filter)), table));
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="outcomes-${table}-${filter.from.slice(0, 10)}.csv"`)
        .send(text);
    },
  );

  app.get(
    '/reports/callbacks.csv',
    {
      schema: {
        tags: ['reports'],
        operationId: 'getCallbacksReportCsv',
        produces: ['text/csv'],
        description: 'Always in the exported form: small numbers suppressed, no personal data or free text.',
        summary: 'One table of the callbacks report as CSV, in the exported form (counts from 1 to 4 as "<5")',
        querystring: Range.extend({ table: z.enum(CALLBACK_TABLES) }),
        response: CSV,
      },
    },
    async (request, reply) => {
      const { table, ...range } = request.query;
      const text = csv(callbackTable(exportCallbacks(await app.reports.callbacks(range)), table));
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="callbacks-${table}-${range.from.slice(0, 10)}.csv"`)
        .send(text);
    },
  );
};

export default reports;
