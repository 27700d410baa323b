import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/**
 * What the request log line says about a request. Fastify's own serializer prints the URL with
 * its query string, and query strings carry what people type (the symptom box's `q`) and who
 * they are (`ageYears`, `sex`): the log keeps the path only.
 */
export function requestLogView(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: request.url.split('?')[0],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

/**
 * One line a request, when it is answered, instead of Fastify's two ("incoming request", then
 * "request completed"): the one line names the request as the first did. Each line is a write
 * to the log and, at a moderate rate, a wake-up of its own. A request cut off before its answer
 * gets a "request aborted" line instead (the app's onRequestAbort hook).
 */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    const line = { req: request, res: reply, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request completed');
  }
}
