import type { FastifyRequest } from 'fastify';

/**
 * What Fastify's "incoming request" line says about a request. Its own serializer prints the URL
 * with its query string, and query strings carry what people type (the symptom box's `q`) and
 * who they are (`ageYears`, `sex`): the log keeps the path only.
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
