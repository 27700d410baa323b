import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { COMPLETION_OUTCOMES, type QueuedCallback } from '../../callbacks/request.js';
import { QUEUE_CHANGES, type QueueChange } from '../../callbacks/service.js';
import { CALLBACK_ACTIONS, CALLBACK_STATUSES, REVIEW_REASONS } from '../../callbacks/vocabulary.js';
import { personOf, type Person } from '../../assessments/service.js';
import { AGE_BANDS, OUTCOME_KINDS, SEXES } from '../../rulesets/schema.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { CANCEL_OVERRIDE, ROLES, type Principal } from '../../security/roles.js';
import { explain } from '../../traces/explain.js';
import { AnswerValueSchema, DateTimeString, problems, questionView, QuestionViewSchema, UuidString } from '../schemas.js';

const CallbackSummarySchema = z
  .object({
    id: UuidString,
    assessmentId: UuidString,
    status: z.enum(CALLBACK_STATUSES),
    disposition: z.string(),
    within: z.string().describe('The urgency window the answers earned (ISO 8601 duration)'),
    dueAt: DateTimeString,
    createdAt: DateTimeString,
    timeLeftSeconds: z.number().optional().describe('Present while not yet due'),
    overdueBySeconds: z.number().optional().describe('Present once the due time has passed'),
    attempts: z.number(),
    needsReview: z.boolean().describe('Flagged for clinical review: 3 unanswered calls, or an escalation after the request'),
    reviewReason: z.enum(REVIEW_REASONS).nullable().describe('escalated: the answers escalated after the request (the request sits at the top of the queue)'),
    answersChanged: z.boolean().describe('The patient changed answers after asking for the callback'),
    claimedBy: z.string().nullable(),
    leaseUntil: DateTimeString.nullable(),
    topic: z.string().describe('The title of the pathway the patient answered'),
    ageBand: z.enum(AGE_BANDS).describe("The patient's age band (never the exact age)"),
    sex: z.enum(SEXES),
  })
  .meta({ id: 'CallbackSummary' });

const DecisionSummarySchema = z.object({ kind: z.enum(OUTCOME_KINDS), disposition: z.string(), within: z.string().nullable(), decidedAt: DateTimeString });

/** What an audit event records beside its action: scalars, or one level of them (a decision's disposition, window and due time). */
const EventDetailValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const EventDetailSchema = z.record(z.string(), z.union([EventDetailValue, z.array(EventDetailValue), z.record(z.string(), EventDetailValue)]));
type EventDetail = z.infer<typeof EventDetailSchema>;

const CallbackDetailSchema = CallbackSummarySchema.extend({
  name: z.string(),
  phone: z.string().describe('E.164'),
  completion: z.object({ outcome: z.enum(COMPLETION_OUTCOMES), notes: z.string(), at: DateTimeString }).nullable(),
  answers: z.array(z.object({ question: QuestionViewSchema, value: AnswerValueSchema })),
  advice: z
    .object({ title: z.string(), advice: z.string(), safetyNetting: z.string().optional() })
    .nullable()
    .describe('The outcome the patient was last shown, in their words; null while they are part-way through changing answers'),
  explanation: z.object({ summary: z.string(), ruledOut: z.array(z.string()), settled: z.array(z.string()), setAside: z.array(z.string()), counted: z.array(z.string()) }).nullable(),
  sinceRequest: z
    .object({
      at: DateTimeString,
      whenAsked: DecisionSummarySchema.describe('The decision the callback was asked on'),
      latest: DecisionSummarySchema.nullable().describe('The latest decision since; null while the patient has not finished answering'),
      stillAnswering: z.boolean().describe('The patient is part-way through changing answers now'),
    })
    .nullable()
    .describe('Answers changed after the request: the request keeps the more urgent of the decisions'),
  history: z
    .array(z.object({ action: z.enum(CALLBACK_ACTIONS), handlerId: z.string().nullable(), at: DateTimeString, detail: EventDetailSchema.nullable() }))
    .describe('In order, including every read of the contact details'),
}).meta({ id: 'CallbackDetail' });

function summary(callback: QueuedCallback, now: number, person: Person): z.infer<typeof CallbackSummarySchema> {
  const left = Math.round((Date.parse(callback.dueAt) - now) / 1000);
  const open = callback.status === 'waiting' || callback.status === 'claimed';
  return {
    id: callback.id,
    assessmentId: callback.assessmentId,
    status: callback.status,
    disposition: callback.disposition,
    within: callback.within,
    dueAt: callback.dueAt,
    createdAt: callback.createdAt,
    ...(open ? (left >= 0 ? { timeLeftSeconds: left } : { overdueBySeconds: -left }) : {}),
    attempts: callback.attempts,
    needsReview: callback.needsReview,
    reviewReason: callback.reviewReason,
    answersChanged: callback.answersChanged !== null,
    claimedBy: callback.claimedBy,
    leaseUntil: callback.leaseUntil,
    ...person,
  };
}

/** The person a request is about; every request has its assessment (a foreign key), so a miss is a bug. */
function personFor(people: Map<string, Person>, callback: QueuedCallback): Person {
  const found = people.get(callback.assessmentId);
  if (!found) throw new Error(`callback ${callback.id}: assessment ${callback.assessmentId} not found`);
  return found;
}

/** Queue position: band (escalated first), due time, creation, id (the queue's order). */
const QueuePosition = z.tuple([z.number().int(), z.string(), z.string(), z.string()]).transform(([band, dueAt, createdAt, id]) => ({ band, dueAt, createdAt, id }));

const IdParams = z.object({ id: z.string().max(100) });

const callbacks: FastifyPluginAsyncZod = async (app) => {
  const streams = new Set<ServerResponse>();
  // Event streams never end on their own: end them so a graceful close does not wait forever.
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end();
  });

  app.get(
    '/callbacks',
    {
      schema: {
        tags: ['callbacks'],
        operationId: 'listCallbacks',
        description: 'Waiting and claimed requests by default, each with the time left or how overdue it is; never contact details. Follow `nextCursor` for the next page.',
        summary: 'The queue: escalated after the request first, then most urgent (due time, then creation)',
        querystring: z.strictObject({
          status: z.enum(CALLBACK_STATUSES).optional().describe('Default: waiting and claimed'),
          overdue: z.enum(['true', 'false']).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().max(300).optional(),
        }),
        response: { 200: z.object({ items: z.array(CallbackSummarySchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => {
      const { status, overdue, limit, cursor } = request.query;
      const { callbacks: rows, now } = await app.callbacks.queue({ status, overdue: overdue === 'true', after: cursor ? decodeCursor(cursor, QueuePosition) : undefined, limit: limit + 1 });
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      const people = await app.assessments.people(page.map((r) => r.assessmentId));
      return { items: page.map((r) => summary(r, Date.parse(now), personFor(people, r))), nextCursor: rows.length > limit && last ? encodeCursor([last.queueBand, last.dueAt, last.createdAt, last.id]) : null };
    },
  );

  app.get(
    '/callbacks/me',
    {
      schema: {
        tags: ['callbacks'],
        operationId: 'getCurrentHandler',
        description: 'The handler id actions are recorded under (derived from the credential, never the key itself) and its roles.',
        summary: 'Who the credential says you are: your handler id and roles',
        response: {
          200: z.object({ id: z.string(), roles: z.array(z.enum(ROLES)), name: z.string().nullable().describe("The display name: a bearer JWT's `name` claim; null for an API key") }),
        },
      },
    },
    async (request) => ({ id: request.principal!.id, roles: request.principal!.roles, name: request.principal!.name ?? null }),
  );

  app.get(
    '/callbacks/stats',
    {
      schema: {
        tags: ['callbacks'],
        operationId: 'getCallbackStats',
        description: 'The figures a console shows above the queue.',
        summary: 'Waiting counts by urgency window, the oldest waiting, the overdue count (waiting or claimed)',
        response: {
          200: z.object({
            waiting: z.number(),
            claimed: z.number(),
            byWindow: z.record(z.string(), z.number()),
            overdue: z.number(),
            oldestWaiting: z.object({ id: UuidString, createdAt: DateTimeString, waitingSeconds: z.number() }).nullable(),
          }),
        },
      },
    },
    async () => app.callbacks.stats(),
  );

  app.get(
    '/callbacks/events',
    {
      schema: {
        operationId: 'streamCallbackEvents',
        tags: ['callbacks'],
        summary: 'Server-sent events: queue changes as they happen',
        description: `Events ${QUEUE_CHANGES.join(', ')}, each with the request's id and status; \`refresh\` when changes may have been missed (reload the queue). A comment line every 15 s keeps the connection open.`,
        produces: ['text/event-stream'],
        response: { 200: z.string().describe('A text/event-stream that stays open') },
      },
    },
    (request, reply) => {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      raw.write(': connected\n\n');
      const send = (change: QueueChange) => raw.write(`event: ${change.type}\ndata: ${JSON.stringify(change)}\n\n`);
      // Changes may have been missed (the instance could not hear the others): reload the queue.
      const refresh = () => raw.write('event: refresh\ndata: {"type":"refresh"}\n\n');
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
      app.callbacks.changes.on('change', send);
      app.callbacks.changes.on('refresh', refresh);
      streams.add(raw);
      request.raw.on('close', () => {
        clearInterval(heartbeat);
        app.callbacks.changes.off('change', send);
        app.callbacks.changes.off('refresh', refresh);
        streams.delete(raw);
      });
    },
  );

  app.get(
    '/callbacks/:id',
    {
      schema: {
        tags: ['callbacks'],
        operationId: 'getCallback',
        description:
          'Everything a call handler needs for the call: name and phone, the answers as question and value, the explanation of the decision, what changed since the request, and the audit history. Reading it is itself recorded.',
        summary: "A request with its contact details, the assessment's answers and the explanation of its decision (the read is audited)",
        params: IdParams,
        response: { 200: CallbackDetailSchema, ...problems(404) },
      },
    },
    async (request) => {
      const { request: callback, history } = await app.callbacks.read(request.params.id, request.principal!.id);
      const { assessment, version } = await app.assessments.get(callback.assessmentId);
      const changed = callback.answersChanged;
      const traces = await app.traces.forAssessment(app.store.read, callback.assessmentId);
      const last = traces[traces.length - 1];
      const explanation = last ? explain(last) : null;
      const outcome = assessment.status === 'complete' ? assessment.outcome : null;
      return {
        ...summary(callback, Date.now(), personOf(version, assessment.patient)),
        name: callback.name,
        phone: callback.phone,
        completion: callback.completion,
        answers: assessment.answers.flatMap((a) => {
          const q = version.questionById.get(a.questionId);
          return q ? [{ question: questionView(q), value: a.value }] : [];
        }),
        advice: outcome && { title: outcome.title, advice: outcome.advice, ...(outcome.safetyNetting ? { safetyNetting: outcome.safetyNetting } : {}) },
        explanation: explanation && { summary: explanation.summary, ruledOut: explanation.ruledOut, settled: explanation.settled, setAside: explanation.setAside, counted: explanation.counted },
        sinceRequest: changed && { ...changed, stillAnswering: assessment.status === 'in_progress' },
        // The events' details are written by the callback service alone, in the shape the schema names (checked as it is sent).
        history: history.map((e) => ({ action: e.action, handlerId: e.handlerId, at: e.at, detail: e.detail as EventDetail | null })),
      };
    },
  );

  // The acting handler is the authenticated principal, never a field of the request body.
  const action = <B extends z.ZodRawShape>(
    path: string,
    about: { operationId: string; summary: string; description: string },
    body: B,
    run: (id: string, actor: Principal, b: z.infer<z.ZodObject<B>>) => Promise<QueuedCallback>,
  ) =>
    app.post(
      `/callbacks/:id/${path}`,
      {
        schema: {
          ...about,
          tags: ['callbacks'],
          params: IdParams,
          // Claim, renew, release and attempts need no body (every field optional); complete and cancel do.
          body: z.strictObject(body).safeParse({}).success ? z.strictObject(body).nullish() : z.strictObject(body),
          response: { 200: CallbackSummarySchema, ...problems(403, 404, 409) },
        },
      },
      async (request) => {
        const callback = await run(request.params.id, request.principal!, (request.body ?? {}) as z.infer<z.ZodObject<B>>);
        return summary(callback, Date.now(), personFor(await app.assessments.people([callback.assessmentId]), callback));
      },
    );

  action(
    'claim',
    {
      operationId: 'claimCallback',
      summary: 'Claim a request',
      description: 'A claim is a lease of CALLBACK_LEASE_SECONDS: renew or complete it, or the request returns to the queue. 409 says who holds it and until when.',
    },
    {},
    (id, actor) => app.callbacks.claim(id, actor.id),
  );
  action('renew', { operationId: 'renewCallbackClaim', summary: 'Extend your claim by another lease', description: 'Only the handler holding the claim may renew it.' }, {}, (id, actor) =>
    app.callbacks.renew(id, actor.id),
  );
  action('release', { operationId: 'releaseCallback', summary: 'Put a request you hold back in the queue', description: 'It keeps its place: due time and creation decide the order.' }, {}, (id, actor) =>
    app.callbacks.release(id, actor.id),
  );
  action(
    'attempts',
    { operationId: 'recordCallbackAttempt', summary: 'Record a call with no answer', description: 'The request is re-queued; after 3 unanswered calls it is flagged for clinical review, never dropped.' },
    { notes: z.string().trim().max(2000).optional().describe('What happened on the call; free text, stored sealed like contact details') },
    (id, actor, b) => app.callbacks.attempt(id, actor.id, b.notes || undefined),
  );
  action(
    'complete',
    { operationId: 'completeCallback', summary: 'Complete a request you hold', description: 'With its outcome from a fixed list and notes (stored sealed, like contact details).' },
    { outcome: z.enum(COMPLETION_OUTCOMES), notes: z.string().max(5000).default('') },
    (id, actor, b) => app.callbacks.complete(id, actor.id, b.outcome, b.notes),
  );
  action(
    'cancel',
    {
      operationId: 'cancelCallback',
      summary: 'Cancel a request you hold that is no longer needed',
      description: `With a reason. 403 for an override (cancelling without holding the claim) by anyone but a ${CANCEL_OVERRIDE.join(' or ')}.`,
    },
    {
      reason: z.string().trim().min(1).max(500).describe('Free text: stored sealed, like contact details'),
      override: z
        .boolean()
        .default(false)
        .describe(`Cancel without holding the claim (a ${CANCEL_OVERRIDE.join(' or ')} only); recorded as an override`),
    },
    (id, actor, b) => app.callbacks.cancel(id, actor, b.reason, b.override),
  );
};

export default callbacks;
