import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { COMPLETION_OUTCOMES, type QueueChange } from '../../callbacks/service.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import type { CallbackRow, QueueRow } from '../../store/callbacks.js';
import { explain } from '../../traces/explain.js';
import { problems, questionView, QuestionViewSchema } from '../schemas.js';

const STATUSES = ['waiting', 'claimed', 'completed', 'cancelled'] as const;

const CallbackSummarySchema = z
  .object({
    id: z.string(),
    assessmentId: z.string(),
    status: z.enum(STATUSES),
    disposition: z.string(),
    within: z.string().describe('The urgency window the answers earned (ISO 8601 duration)'),
    dueAt: z.string(),
    createdAt: z.string(),
    timeLeftSeconds: z.number().optional().describe('Present while not yet due'),
    overdueBySeconds: z.number().optional().describe('Present once the due time has passed'),
    attempts: z.number(),
    needsReview: z.boolean().describe('Flagged for clinical review after 3 unanswered calls'),
    claimedBy: z.string().nullable(),
    leaseUntil: z.string().nullable(),
  })
  .meta({ id: 'CallbackSummary' });

const CallbackDetailSchema = CallbackSummarySchema.extend({
  name: z.string(),
  phone: z.string().describe('E.164'),
  completion: z.object({ outcome: z.enum(COMPLETION_OUTCOMES), notes: z.string(), at: z.string() }).nullable(),
  answers: z.array(z.object({ question: QuestionViewSchema, value: z.unknown() })),
  explanation: z.object({ summary: z.string(), ruledOut: z.array(z.string()), settled: z.array(z.string()), setAside: z.array(z.string()) }).nullable(),
  history: z.array(z.object({ action: z.string(), handlerId: z.string().nullable(), at: z.string(), detail: z.unknown() })),
}).meta({ id: 'CallbackDetail' });

function summary(row: QueueRow, now: number): z.infer<typeof CallbackSummarySchema> {
  const left = Math.round((Date.parse(row.due_at) - now) / 1000);
  const open = row.status === 'waiting' || row.status === 'claimed';
  return {
    id: row.id,
    assessmentId: row.assessment_id,
    status: row.status,
    disposition: row.disposition,
    within: row.within,
    dueAt: row.due_at,
    createdAt: row.created_at,
    ...(open ? (left >= 0 ? { timeLeftSeconds: left } : { overdueBySeconds: -left }) : {}),
    attempts: row.attempts,
    needsReview: row.needs_review === 1,
    claimedBy: row.claimed_by,
    leaseUntil: row.lease_until,
  };
}

/** Queue position: due time, then creation, then id (the queue's order). */
const QueuePosition = z.tuple([z.string(), z.string(), z.string()]).transform(([dueAt, createdAt, id]) => ({ dueAt, createdAt, id }));

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
        summary: 'The queue: most urgent first (due time, then creation)',
        querystring: z.strictObject({
          status: z.enum(STATUSES).optional().describe('Default: waiting and claimed'),
          overdue: z.enum(['true', 'false']).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().max(300).optional(),
        }),
        response: { 200: z.object({ items: z.array(CallbackSummarySchema), nextCursor: z.string().nullable() }), ...problems(400, 401, 403) },
      },
    },
    async (request) => {
      const { status, overdue, limit, cursor } = request.query;
      const { rows, now } = await app.callbacks.queue({ status, overdue: overdue === 'true', after: cursor ? decodeCursor(cursor, QueuePosition) : undefined, limit: limit + 1 });
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return { items: page.map((r) => summary(r, Date.parse(now))), nextCursor: rows.length > limit && last ? encodeCursor([last.due_at, last.created_at, last.id]) : null };
    },
  );

  app.get(
    '/callbacks/me',
    {
      schema: {
        tags: ['callbacks'],
        summary: 'Who the credential says you are: your handler id and roles',
        response: { 200: z.object({ id: z.string(), roles: z.array(z.string()) }), ...problems(401, 403) },
      },
    },
    async (request) => ({ id: request.principal!.id, roles: request.principal!.roles }),
  );

  app.get(
    '/callbacks/stats',
    {
      schema: {
        tags: ['callbacks'],
        summary: 'Waiting counts by urgency window, the oldest waiting, the overdue count (waiting or claimed)',
        response: {
          ...problems(401, 403),
          200: z.object({
            waiting: z.number(),
            claimed: z.number(),
            byWindow: z.record(z.string(), z.number()),
            overdue: z.number(),
            oldestWaiting: z.object({ id: z.string(), createdAt: z.string(), waitingSeconds: z.number() }).nullable(),
          }),
        },
      },
    },
    async () => app.callbacks.stats(),
  );

  app.get(
    '/callbacks/events',
    { schema: { tags: ['callbacks'], summary: 'Server-sent events: added, claimed, released, attempted, completed, cancelled' } },
    (request, reply) => {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      raw.write(': connected\n\n');
      const send = (change: QueueChange) => raw.write(`event: ${change.type}\ndata: ${JSON.stringify(change)}\n\n`);
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
      app.callbacks.changes.on('change', send);
      streams.add(raw);
      request.raw.on('close', () => {
        clearInterval(heartbeat);
        app.callbacks.changes.off('change', send);
        streams.delete(raw);
      });
    },
  );

  app.get(
    '/callbacks/:id',
    {
      schema: {
        tags: ['callbacks'],
        summary: "A request with the assessment's answers and the explanation of its decision",
        params: IdParams,
        response: { 200: CallbackDetailSchema, ...problems(401, 403, 404) },
      },
    },
    async (request) => {
      const row = await app.callbacks.get(request.params.id);
      const { assessment, version } = await app.assessments.get(row.assessment_id);
      const traces = await app.traces.forAssessment(row.assessment_id);
      const last = traces[traces.length - 1];
      const explanation = last ? explain(last) : null;
      return {
        ...summary(row, Date.now()),
        name: row.name,
        phone: row.phone,
        completion: row.completion_outcome ? { outcome: row.completion_outcome as (typeof COMPLETION_OUTCOMES)[number], notes: row.completion_notes ?? '', at: row.completed_at ?? '' } : null,
        answers: assessment.answers.flatMap((a) => {
          const q = version.questionById.get(a.questionId);
          return q ? [{ question: questionView(q), value: a.value }] : [];
        }),
        explanation: explanation && { summary: explanation.summary, ruledOut: explanation.ruledOut, settled: explanation.settled, setAside: explanation.setAside },
        history: (await app.callbacks.history(row.assessment_id)).map((e) => ({ action: e.action, handlerId: e.handlerId, at: e.at, detail: e.detail })),
      };
    },
  );

  // The acting handler is the authenticated principal, never a field of the request body.
  const action = <B extends z.ZodRawShape>(path: string, summaryText: string, body: B, run: (id: string, handlerId: string, b: z.infer<z.ZodObject<B>>) => Promise<CallbackRow>) =>
    app.post(
      `/callbacks/:id/${path}`,
      {
        schema: {
          tags: ['callbacks'],
          summary: summaryText,
          params: IdParams,
          // Claim, renew, release and attempts need no body; complete and cancel do.
          body: Object.keys(body).length ? z.strictObject(body) : z.strictObject({}).nullish(),
          response: { 200: CallbackSummarySchema, ...problems(400, 401, 403, 404, 409) },
        },
      },
      async (request) => summary(await run(request.params.id, request.principal!.id, (request.body ?? {}) as z.infer<z.ZodObject<B>>), Date.now()),
    );

  action('claim', 'Claim a request; 409 says who holds it and until when', {}, (id, handler) => app.callbacks.claim(id, handler));
  action('renew', 'Extend your claim by another lease', {}, (id, handler) => app.callbacks.renew(id, handler));
  action('release', 'Put a request you hold back in the queue', {}, (id, handler) => app.callbacks.release(id, handler));
  action('attempts', 'Record a call with no answer; the request is re-queued (flagged for review after 3)', {}, (id, handler) => app.callbacks.attempt(id, handler));
  action('complete', 'Complete a request you hold, with its outcome and notes', { outcome: z.enum(COMPLETION_OUTCOMES), notes: z.string().max(5000).default('') }, (id, handler, b) =>
    app.callbacks.complete(id, handler, b.outcome, b.notes),
  );
  action('cancel', 'Cancel a request that is no longer needed', { reason: z.string().trim().min(1).max(500) }, (id, handler, b) => app.callbacks.cancel(id, handler, b.reason));
};

export default callbacks;
