import type { Test } from 'tap';
import { run } from '../../src/cli/traces.js';
import { BASIC_RULES, type CliResult, followVerification, freshDatabaseUrl, get, post, runCli, STAFF, testApp, type TestApp } from '../helpers.js';

/** What the trace suites share: an app on a database of its own, a walk through it, the command. */
export const adult = { ageYears: 30, sex: 'female' };

/** Walks the sample pathway to a self-care outcome; returns the assessment id and trace ids. */
export async function walk(app: TestApp): Promise<{ id: string; traceIds: string[] }> {
  const steps = [await post(app, '/v1/assessments', { pathwayId: 'sample', patient: adult })];
  const id = steps[0]!.body.id as string;
  for (const [questionId, value] of [
    ['emergency', false],
    ['severe', false],
    ['kind', 'dull'],
    ['days', 1],
  ] as const) {
    steps.push(await post(app, `/v1/assessments/${id}/answers`, { questionId, value }));
  }
  return { id, traceIds: steps.map((s) => s.body.traceId as string) };
}

export async function appWithDb(t: Test) {
  const file = await freshDatabaseUrl(t);
  const app = await testApp(t, { rulesDir: BASIC_RULES, env: { DATABASE_URL: file } });
  return { app, file };
}

/** The traces command on a test's database: stdout, stderr and the exit code, whatever it is. */
export const traces = (file: string, args: string[]): Promise<CliResult> => runCli(run, args, { env: { DATABASE_URL: file } });

export const verifyOnline = (app: TestApp, query = '') => followVerification((url) => get(app, url, STAFF.clinician), query);
