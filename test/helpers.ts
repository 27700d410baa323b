import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Test } from 'tap';
import { buildApp, type AppOptions } from '../src/app.js';
import { loadConfig } from '../src/config.js';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const BUNDLED_RULES = path.join(REPO, 'rules');
export const BASIC_RULES = path.join(REPO, 'test/fixtures/basic-rules');

/** A fresh directory removed when the test ends. */
export function tempDir(t: Test, prefix = 'triage-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Collects every log line the app writes, to assert on what must never appear. */
export function logCapture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** A real app on a real SQLite file of its own, closed when the test ends. */
export async function testApp(
  t: Test,
  options: { rulesDir?: string; env?: Record<string, string>; logStream?: Writable } & Omit<AppOptions, 'config'> = {},
) {
  const dir = tempDir(t);
  const config = loadConfig({
    DATABASE_URL: `sqlite:${path.join(dir, 'triage.db')}`,
    RULES_DIR: options.rulesDir ?? BUNDLED_RULES,
    LOG_LEVEL: options.logStream ? 'info' : 'silent',
    ...options.env,
  });
  const app = await buildApp({ config, logStream: options.logStream, extraOperators: options.extraOperators, now: options.now });
  t.teardown(() => app.close());
  return app;
}

export type TestApp = Awaited<ReturnType<typeof testApp>>;

export interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read JSON bodies freely
  body: any;
  headers: Record<string, string | string[] | number | undefined>;
}

export async function post(app: TestApp, url: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await app.inject({ method: 'POST', url, payload: body as object, headers });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

export async function get(app: TestApp, url: string, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await app.inject({ method: 'GET', url, headers });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}
