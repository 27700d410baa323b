import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Test } from 'tap';
import { run } from '../../src/cli/traces.js';
import type { Database } from '../../src/store/schema.js';
import { dictionaryOf, pack } from '../../src/traces/packing.js';
import { STORED_TRACE_COLUMNS, storedText, type StoredTrace } from '../../src/traces/trace.js';
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

/** A stored trace row with the packing dictionary of the version it names, from that version's stored content. */
async function rowWithDictionary(db: Kysely<Database>, id: string): Promise<{ row: StoredTrace; dictionary: Buffer | undefined }> {
  const row = await db.selectFrom('traces').select(STORED_TRACE_COLUMNS).where('id', '=', id).executeTakeFirstOrThrow();
  const version = await db.selectFrom('rule_set_versions').select('content').where('hash', '=', row.version_hash).executeTakeFirst();
  return { row, dictionary: version ? dictionaryOf(row.version_hash, version.content) : undefined };
}

/** A trace's sealed text, as an auditor makes it again from its row (unpacked if packed). */
export async function sealedTextOf(db: Kysely<Database>, id: string): Promise<string> {
  const { row, dictionary } = await rowWithDictionary(db, id);
  return storedText(row, dictionary);
}

/**
 * Rewrites a stored trace's sealed text behind the service's back, stored as it was (packed stays
 * packed). `reseal`: with a fresh hash, as a faulty build that sealed the edited text would have.
 */
export async function rewriteSealedText(db: Kysely<Database>, id: string, edit: (text: string) => string, options: { reseal?: boolean; columns?: Partial<StoredTrace> } = {}): Promise<void> {
  const { row, dictionary } = await rowWithDictionary(db, id);
  const text = edit(storedText(row, dictionary));
  const hash = options.reseal ? createHash('sha256').update(text).digest('hex') : row.hash;
  // The packed form holds the id, a comma and the members: what follows `"prevHash":"...",`.
  const members = text.slice(text.indexOf(',', text.indexOf('"prevHash"')) + 1, -1);
  const stored = row.packed ? { body: '', packed: Buffer.from(pack(Buffer.from(`${JSON.stringify(row.id)},${members}`), dictionary!)!) } : { body: text };
  await db
    .updateTable('traces')
    .set({ ...stored, hash, ...options.columns })
    .where('id', '=', id)
    .execute();
}
