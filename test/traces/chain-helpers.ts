import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Test } from 'tap';
import { BASIC_RULES, followVerification, freshDatabaseUrl, get, post, REPO, testApp, type TestApp } from '../helpers.js';

/** What the trace suites share: an app on a database of its own, a walk through it, the command. */
export const run = promisify(execFile);
export const adult = { ageYears: 30, sex: 'female' };

/** Walks the sample pathway to a self-care outcome; returns the assessment id and trace ids. */
export async function walk(app: TestApp): Promise<{ id: string; traceIds: string[] }> {
  const steps = [await post(app, '/v1/assessments', { pathwayId: 'sample', patient: adult })];
  const id = steps[0]!.body.id as string;
  for (const [questionId, value] of [['emergency', false], ['severe', false], ['kind', 'dull'], ['days', 1]] as const) {
    steps.push(await post(app, `/v1/assessments/${id}/answers`, { questionId, value }));
  }
  return { id, traceIds: steps.map((s) => s.body.traceId as string) };
}

export async function appWithDb(t: Test) {
  const file = await freshDatabaseUrl(t);
  const app = await testApp(t, { rulesDir: BASIC_RULES, env: { DATABASE_URL: file } });
  return { app, file };
}

export const cliPath = path.join(REPO, 'dist/src/cli/traces.js');
/** The traces command on a test's database: stdout, stderr and the exit code, whatever it is. */
export async function traces(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [cliPath, ...args], { env: { ...process.env, DATABASE_URL: file } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

export const verifyOnline = (app: TestApp, query = '') => followVerification((url) => get(app, url), query);

