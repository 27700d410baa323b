import type { z } from 'zod';
import { Problem } from './problem.js';

/** Opaque pagination cursors: a position, encoded so clients pass it back without reading it. */
export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor<T>(cursor: string, shape: z.ZodType<T>): T {
  let position: unknown;
  try {
    position = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    position = undefined;
  }
  const parsed = shape.safeParse(position);
  if (!parsed.success) {
    throw new Problem(400, 'Invalid cursor', 'the cursor is not one this API returned', [{ path: ['querystring', 'cursor'], message: 'invalid cursor' }]);
  }
  return parsed.data;
}
