import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { z } from 'zod';
import { notFound } from '../problem.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { OUTCOME_KINDS, SEXES } from '../../rulesets/schema.js';
import { explain } from '../../traces/explain.js';
import { replay } from '../../traces/replay.js';
import { ANCHOR_PATTERN, parseAnchor, type TraceBody } from '../../traces/trace.js';
import { DECISION_SEMANTICS } from '../../triage/settled.js';
import { DECISION_STATUSES } from '../../triage/decision.js';
import { AnswerSchema, DateTimeString, OutcomeViewSchema, problems, UuidString } from '../schemas.js';

const Kleene = z.boolean().nullable().describe('Three-valued: null is unknown (a question still to be asked)');

/** A condition as evaluated (ConditionTrace); `expected` and `actual` are whatever JSON the rule compares, absent when undefined. */
type ConditionView =
  { all: ConditionView[]; result: boolean | null } | { any: ConditionView[]; result: boolean | null } | { fact: string; operator: string; expected?: unknown; actual?: unknown; result: boolean | null };
const ConditionTraceSchema: z.ZodType<ConditionView> = z
  .union([
    z.object({
      get all() {
        return z.array(ConditionTraceSchema);
      },
      result: Kleene,
    }),
    z.object({
      get any() {
        return z.array(ConditionTraceSchema);
      },
      result: Kleene,
    }),
    z.object({ fact: z.string(), operator: z.string(), expected: z.unknown().optional(), actual: z.unknown().optional(), result: Kleene }),
  ])
  .meta({ id: 'ConditionTrace' });

/**
 * A trace's evaluation as the API shows it. Loose objects: a trace is served exactly as it was
 * sealed, so a member this schema does not name (from an older or newer version) passes through,
 * and what older traces lack is optional.
 */
const RuleEvaluationSchema = z.looseObject({
  ruleId: z.string(),
  title: z.string(),
  scope: z.enum(['global_red_flag', 'pathway', 'module']),
  module: z.string().optional(),
  redFlag: z.boolean(),
  priority: z.number(),
  fired: Kleene,
  notEvaluated: z.enum(['unanswered', 'decided_above']).optional().describe('Why it was not handed to the engine'),
  conditions: ConditionTraceSchema.optional(),
});

const EvaluationSchema = z
  .looseObject({
    semantics: z.enum(DECISION_SEMANTICS).optional().describe('Absent on traces made before there was a choice (first-fire-v1)'),
    facts: z.record(z.string(), z.unknown()).describe('Every fact as the engine saw it: the patient and the answers as counted'),
    dropped: z.array(AnswerSchema).optional().describe('Answers dropped because their question no longer applies'),
    rules: z.array(RuleEvaluationSchema),
    askWhen: z.array(z.looseObject({ questionId: z.string(), held: Kleene, notEvaluated: z.literal('unanswered').optional(), conditions: ConditionTraceSchema.optional() })).optional(),
    next: z
      .looseObject({
        questionId: z.string(),
        askWhen: ConditionTraceSchema.nullable(),
        askedFor: z.looseObject({ ruleId: z.string(), title: z.string(), kind: z.enum(OUTCOME_KINDS), within: z.string().optional() }).optional(),
        stillNeeded: z.array(z.string()).optional(),
      })
      .nullable()
      .optional(),
    decidedBy: z.union([z.looseObject({ ruleId: z.string() }), z.looseObject({ fallback: z.enum(['no_rule_decided', 'engine_error', 'timeout']), detail: z.string() })]),
    settled: z.array(z.looseObject({ ruleId: z.string(), by: z.enum(['answers', 'not_asked', 'unaskable']) })).optional(),
    engineRuns: z.number().optional(),
  })
  .meta({ id: 'Evaluation' });

/** What a trace decided: the outcome, or the question to ask next. */
const DecisionRecordSchema = z
  .discriminatedUnion('status', [z.object({ status: z.literal('complete'), outcome: OutcomeViewSchema }), z.object({ status: z.literal('needs_answer'), questionId: z.string() })])
  .meta({ id: 'DecisionRecord' });

const TraceSchema = z
  .object({
    id: UuidString,
    seq: z.number().int(),
    prevHash: z.string(),
    assessmentId: UuidString.nullable(),
    step: z.number().int().nullable(),
    at: DateTimeString,
    durationMs: z.number(),
    pathway: z.looseObject({ id: z.string(), version: z.string(), hash: z.string(), modules: z.array(z.object({ id: z.string(), version: z.string() })).optional() }),
    software: z.object({ app: z.string(), jsonRulesEngine: z.string() }),
    patient: z.object({ ageYears: z.number(), sex: z.enum(SEXES) }),
    answers: z.array(AnswerSchema),
    evaluation: EvaluationSchema.describe("Facts as evaluated; every rule with each condition's fact, operator, expected and actual value and result; askWhen checks; the next question; what decided"),
    result: DecisionRecordSchema,
  })
  .meta({ id: 'Trace' });

const TraceSummarySchema = z.object({
  seq: z.number().int(),
  id: UuidString,
  assessmentId: UuidString.nullable(),
  step: z.number().int().nullable(),
  at: DateTimeString,
  pathwayId: z.string(),
  versionHash: z.string(),
  status: z.enum(DECISION_STATUSES),
  outcomeKind: z.enum(OUTCOME_KINDS).nullable(),
  disposition: z.string().nullable(),
  ruleId: z.string().nullable(),
});

const VerificationSchema = z
  .object({
    id: UuidString,
    state: z.enum(['running', 'done', 'failed']).describe('failed: the verification could not finish (see error); a broken chain is `done` with verdict.ok false'),
    range: z.object({ from: z.number(), to: z.number() }),
    anchor: z.string().nullable(),
    progress: z.object({ verified: z.number(), total: z.number() }),
    startedAt: DateTimeString,
    finishedAt: DateTimeString.nullable(),
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

/**
 * A trace as served: exactly as sealed. TraceBody's interfaces carry no index signature, so they
 * do not meet the loose objects' types, though every trace satisfies them (checked as it is sent).
 */
const asSealed = (trace: TraceBody): z.infer<typeof TraceSchema> => trace as unknown as z.infer<typeof TraceSchema>;

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
        operationId: 'listTraces',
        description: 'Oldest first by sequence number. Filter by pathway, outcome kind, disposition, deciding rule and time; follow `nextCursor` for the next page.',
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
      // The summary columns are copied from each trace's sealed result when it is stored.
      return { items: page as z.infer<typeof TraceSummarySchema>[], nextCursor: items.length > limit ? encodeCursor({ seq: page[page.length - 1]!.seq }) : null };
    },
  );

  app.get(
    '/traces/verify',
    {
      schema: {
        tags: ['traces'],
        operationId: 'startTraceVerification',
        summary: 'Start verifying the hash chain (or join the same verification running): answered at once, with the verification to follow',
        description:
          'The whole chain by default; `from`/`to` sequence numbers for part of it; `anchor` (SEQ:HASH, from `traces head`) to require that the chain still reaches that point with that hash, and with `sinceAnchor=true` only what was appended after it. The verification runs off the request thread; follow it at the Location given (GET /v1/trace-verifications/{id}) until its state is no longer `running`.',
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
      return reply.code(202).header('location', `/v1/trace-verifications/${verification.id}`).send(verification);
    },
  );

  app.get(
    '/trace-verifications/:id',
    {
      schema: {
        tags: ['traces'],
        operationId: 'getTraceVerification',
        description: 'Poll until `state` is no longer `running`: `done` with the verdict (verified, or the first broken link), or `failed` with the error.',
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

  app.get(
    '/traces/:id',
    {
      schema: {
        operationId: 'getTrace',
        tags: ['traces'],
        summary: 'One trace, in full',
        description: 'Exactly as sealed in the hash chain: the rule-set version, the facts, every rule evaluated, and the result; refused if its stored columns disagree with its content.',
        params: IdParams,
        response: { 200: TraceSchema, ...problems(404) },
      },
    },
    async (request) => asSealed(await load(request.params.id)),
  );

  app.get(
    '/traces/:id/explanation',
    {
      schema: {
        tags: ['traces'],
        operationId: 'explainTrace',
        description: 'What decided and why, which rules were ruled out and how, and how answers were counted, in sentences an auditor can read.',
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
        operationId: 'replayTrace',
        description: 'Nothing is stored: the replay decides again in memory and compares the result with the one sealed in the trace.',
        summary: 'Re-run the stored answers on the stored rule-set version, with the decision semantics the trace was made with; identical, or the differences',
        params: IdParams,
        response: {
          200: z.object({
            traceId: z.string(),
            versionHash: z.string(),
            semantics: z.enum(DECISION_SEMANTICS).describe('How the trace was decided, and replayed (first-fire-v1 for traces that name none)'),
            identical: z.boolean(),
            differences: z.array(z.string()),
            original: DecisionRecordSchema,
            replayed: DecisionRecordSchema,
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
        operationId: 'getAssessmentHistory',
        description: 'Decision steps from the traces and callback actions from the audit log, merged in time order; never contact details.',
        summary: "The assessment's audit history: every decision step and every callback action, in time order",
        params: IdParams,
        response: {
          200: z.object({
            events: z.array(
              z.object({
                at: DateTimeString,
                kind: z.enum(['decision', 'callback']),
                summary: z.string(),
                traceId: UuidString.optional(),
                handlerId: z.string().nullable().optional(),
              }),
            ),
          }),
          ...problems(404),
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
        operationId: 'listAssessmentTraces',
        description: 'In step order, each in full as GET /v1/traces/{id} gives it.',
        summary: 'Every trace of an assessment, step by step',
        params: IdParams,
        response: { 200: z.object({ traces: z.array(TraceSchema) }), ...problems(404) },
      },
    },
    async (request) => {
      await app.assessments.get(request.params.id);
      return { traces: (await app.traces.forAssessment(app.store.read, request.params.id)).map(asSealed) };
    },
  );
};

export default traces;
