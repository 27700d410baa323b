import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Public content that changes when a release goes live, on every instance at once: cacheable, but
 * revalidated on each use (cheap: a 304 while its ETag holds), so nobody is shown retired questions.
 */
const REVALIDATE = 'public, no-cache';

/** Response headers of a revalidated read, as the OpenAPI document describes them (route config responseHeaders). */
export const REVALIDATED_HEADERS = {
  ETag: { type: 'string', description: 'Changes when the rule-set version (or the software) serving it changes' },
  'Cache-Control': { type: 'string', description: REVALIDATE },
} as const;

/**
 * Sets the ETag and Cache-Control of a revalidated read; true when the client's copy is current
 * (If-None-Match), and the reply is then a 304 to send without a body.
 */
export function notModified(request: FastifyRequest, reply: FastifyReply, tag: string): boolean {
  const etag = `"${tag}"`;
  reply.header('etag', etag).header('cache-control', REVALIDATE);
  const match = request.headers['if-none-match'];
  // Weak comparison, as RFC 9110 asks for If-None-Match.
  if (match !== undefined && (match.trim() === '*' || match.split(',').some((t) => t.trim().replace(/^W\//, '') === etag))) {
    reply.code(304);
    return true;
  }
  return false;
}
