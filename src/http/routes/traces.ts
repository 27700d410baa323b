import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { z } from 'zod';
import { notFound } from '../problem.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { OUTCOME_KINDS } from '../../rulesets/schema.js';
import { explain } from '../../traces/explain.js';
import { replay } from '../../traces/replay.js';
import { ANCHOR_PATTERN, parseAnchor, type TraceBody } from '../../traces/trace.js';
import { DECISION_SEMANTICS } from '../../triage/settled.js';
import { PathwayRefSchema, problems } from '../schemas.js';

// Traces are nested records of everything evaluated; documented by their top-level fields.
const TraceSchema = z
  .object({
    id: z.string(),
    seq: z.number(),
    prevHash: z.string(),
    assessmentId: z.string().nullable(),
    step: z.number().nullable(),
    at: z.string(),
    durationMs: z.number(),
    pathway: PathwayRefSchema,
    software: z.object({ app: z.string(), jsonRulesEngine: z.string() }),
    patient: z.object({ ageYears: z.number(), sex: z.string() }),
    answers: z.array(z.object({ questionId: z.string(), value: z.unknown() })),
    evaluation: z.unknown().describe("Facts as evaluated; every rule with each condition's fact, operator, expected and actual value and result; askWhen checks; the next question; what decided"),
    result: z.unknown().describe('{ status: "complete", outcome } or { status: "needs_answer", questionId }'),
  })
  .meta({ id: 'Trace' });

const TraceSummarySchema = z.object({
  seq: z.number(),
  id: z.string(),
  assessmentId: z.string().nullable(),
  step: z.number().nullable(),
  at: z.string(),
  pathwayId: z.string(),
  versionHash: z.string(),
  status: z.string(),
  outcomeKind: z.string().nullable(),
  disposition: z.string().nullable(),
  ruleId: z.string().nullable(),
});

const VerificationSchema = z
  .object({
    id: z.string(),
    state: z.enum(['running', 'done', 'failed']).describe('failed: the verification could not finish (see error); a broken chain is `done` with verdict.ok false'),
    range: z.object({ from: z.number(), to: z.number() }),
    anchor: z.string().nullable(),
    progress: z.object({ verified: z.number(), total: z.number() }),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    verdict: z
      .object({
        ok: z.boolean(),
        verified: z.number(),
        lastSeq: z.number().nullable().optional(),
        headHash: z.string().optional().describe('When ok: the hash of the last trace verified'),
        brokenAt: z.number().optional().describe('When not ok: the sequence number of the first link that does not hold'),
        traceId: z.string().optional(),
        reason: z.string().optional(),
      })
      .nullable(),
    error: z.string().nullable(),
  })
  .meta({ id: 'TraceVerification' });

const TracePosition = z.object({ seq: z.number().int().min(0) });

const IdParams = z.object({ id: z.string().max(100) });

const traces: FastifyPluginAsyncZod = async (app) => {
  async function load(id: string): Promise<TraceBody> {
    const trace = await app.traces.get(app.store.read, id);
    if (!trace) {
      throw notFound('trace', id);
    }
    return trace;
  }

  app.get(
    '/traces',
    {
      schema: {
        tags: ['traces'],
        summary: 'Decision traces in order, filtered, a page at a time',
        querystring: z.strictObject({
          pathwayId: z.string().max(100).optional(),
          outcomeKind: z.enum(OUTCOME_KINDS).optional(),
          disposition: z.string().max(100).optional(),
          ruleId: z.string().max(100).optional().describe('The rule that decided'),
          from: z.iso.datetime().optional().describe('Inclusive, ISO 8601 UTC'),
          to: z.iso.datetime().optional().describe('Exclusive, ISO 8601 UTC'),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          cursor: z.string().max(200).optional(),
        }),
        response: { 200: z.object({ items: z.array(TraceSummarySchema), nextCursor: z.string().nullable() }), ...problems(400) },
      },
    },
    async (request) => {
      const { cursor, limit, ...filter } = request.query;
      const items = await app.traces.list(app.store.read, { ...filter, afterSeq: cursor ? decodeCursor(cursor, TracePosition).seq : undefined, limit: limit + 1 });
      const page = items.slice(0, limit);
      return { items: page, nextCursor: items.length > limit ? encodeCursor({ seq: page[page.length - 1]!.seq }) : null };
    },
  );

  app.get(
    '/traces/verify',
    {
      schema: {
        tags: ['traces'],
        summary: 'Start verifying the hash chain (or join the same verification running): answered at once, with the verification to follow',
        description:
          'The whole chain by default; `from`/`to` sequence numbers for part of it; `anchor` (SEQ:HASH, from `traces head`) to require that the chain still reaches that point with that hash, and with `sinceAnchor=true` only what was appended after it. The verification runs off the request thread; follow it at the Location given (GET /v1/traces/verify/{id}) until its state is no longer `running`.',
        querystring: z.strictObject({
          from: z.coerce.number().int().min(1).optional().describe('First sequence number to verify (default 1)'),
          to: z.coerce.number().int().min(0).optional().describe('Last sequence number to verify (default: the chain head)'),
          anchor: z.string().regex(ANCHOR_PATTERN, 'SEQ:HASH, as `traces head` prints it').optional(),
          sinceAnchor: z.enum(['true', 'false']).optional().describe('Verify only the traces after the anchor'),
        }),
        response: { 202: VerificationSchema, ...problems(400, 409) },
      },
    },
    async (request, reply) => {
      const { anchor, sinceAnchor, ...range } = request.query;
      const verification = await app.verifications.start({ ...range, anchor: anchor === undefined ? undefined : parseAnchor(anchor), sinceAnchor: sinceAnchor === 'true' });
      return reply.code(202).header('location', `/v1/traces/verify/${verification.id}`).send(verification);
    },
  );

  app.get(
    '/traces/verify/:id',
    {
      schema: {
        tags: ['traces'],
        summary: "A verification's progress, then its verdict: the count verified, or the first broken link",
        params: IdParams,
        response: { 200: VerificationSchema, ...problems(404) },
      },
    },
    async (request) => {
      const verification = await app.verifications.get(request.params.id);
      if (!verification) {
        throw notFound('verification', request.params.id);
      }
      return verification;
    },
  );

  app.get('/traces/:id', { schema: { tags: ['traces'], summary: 'One trace, in full', params: IdParams, response: { 200: TraceSchema, ...problems(404) } } }, async (request) => load(request.params.id));

  app.get(
    '/traces/:id/explanation',
    {
      schema: {
        tags: ['traces'],
        summary: 'The trace in plain sentences',
        params: IdParams,
        response: {
          200: z.object({
            traceId: z.string(),
            summary: z.string(),
            ruledOut: z.array(z.string()),
            settled: z.array(z.string()).describe('Other rules ranked above the decision, and how each was ruled out first'),
            setAside: z.array(z.string()),
            counted: z.array(z.string()).describe("Answers the rules read otherwise than given: 'not sure' as its countsAs, durations in hours"),
          }),
          ...problems(404),
        },
      },
    },
    async (request) => explain(await load(request.params.id)),
  );

  app.post(
    '/traces/:id/replay',
    {
      schema: {
        tags: ['traces'],
        summary: 'Re-run the stored answers on the stored rule-set version, with the decision semantics the trace was made with; identical, or the differences',
        params: IdParams,
        response: {
          200: z.object({
            traceId: z.string(),
            versionHash: z.string(),
            semantics: z.enum(DECISION_SEMANTICS).describe('How the trace was decided, and replayed (first-fire-v1 for traces that name none)'),
            identical: z.boolean(),
            differences: z.array(z.string()),
            original: z.unknown(),
            replayed: z.unknown(),
          }),
          ...problems(404),
        },
      },
    },
    async (request) => {
      const trace = await load(request.params.id);
      return replay(trace, await app.assessments.versionFor(trace.pathway.hash), app.triage);
    },
  );

  app.get(
    '/assessments/:id/history',
    {
      schema: {
        tags: ['traces'],
        summary: "The assessment's audit history: every decision step and every callback action, in time order",
        params: IdParams,
        response: {
          200: z.object({
            events: z.array(
              z.object({
                at: z.string(),
                kind: z.enum(['decision', 'callback']),
                summary: z.string(),
                traceId: z.string().optional(),
                handlerId: z.string().nullable().optional(),
              }),
            ),
          }),
          ...problems(401, 403, 404),
        },
      },
    },
    async (request) => {
      await app.assessments.get(request.params.id);
      const steps = (await app.traces.forAssessment(app.store.read, request.params.id)).map((trace) => ({
        at: trace.at,
        kind: 'decision' as const,
        traceId: trace.id,
        summary:
          trace.result.status === 'complete'
            ? `step ${trace.step}: ${trace.result.outcome.kind} ${trace.result.outcome.disposition} (${trace.result.outcome.ruleId ?? 'fallback'})`
            : `step ${trace.step}: asked ${trace.result.questionId}`,
      }));
      const actions = (await app.callbacks.history(request.params.id)).map((e) => ({ at: e.at, kind: 'callback' as const, handlerId: e.handlerId, summary: `callback ${e.action}` }));
      return { events: [...steps, ...actions].sort((a, b) => a.at.localeCompare(b.at)) };
    },
  );

  app.get(
    '/assessments/:id/traces',
    {
      schema: {
        tags: ['traces'],
        summary: 'Every trace of an assessment, step by step',
        params: IdParams,
        response: { 200: z.object({ traces: z.array(TraceSchema) }), ...problems(404) },
      },
    },
    async (request) => {
      await app.assessments.get(request.params.id);
      return { traces: await app.traces.forAssessment(app.store.read, request.params.id) };
    },
  );
};

export default traces;
