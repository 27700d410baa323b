// @tag postgres: runs again on PostgreSQL (scripts/postgres-tests.mjs)
import t from 'tap';
import { databaseUrlOf, get, rawSql, STAFF, withRawDatabase } from '../helpers.js';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/store/schema.js';
import { appWithDb, rewriteSealedText, traces, verifyOnline, walk } from './chain-helpers.js';

/**
 * Every stored field of a trace is either its sealed text, covered by its hash, or a column
 * copied from that text: an edit to any of them, or two traces' ids swapped, is found by verify
 * (naming the trace) and refused by every read that would otherwise serve the edited value.
 */
interface Tamper {
  name: string;
  /** Statements, given the ids of the traces by sequence number (1-based) and of the two assessments. */
  sql?: (ids: { trace: (seq: number) => string; assessments: [string, string] }) => string[];
  /** Or an edit through a connection of its own. */
  edit?: (db: Kysely<Database>, ids: { trace: (seq: number) => string }) => Promise<void>;
  brokenAt: number;
  reason: RegExp;
  /** A read that would serve the edited value: it must be refused, naming the trace. */
  read?: (ids: { trace: (seq: number) => string; assessments: [string, string] }) => string;
  /** The trace the refused read names, when not the first broken one. */
  readFinds?: number;
  /**
   * Also through GET /v1/traces/verify and the command, which must say the same. Only for some:
   * the route starts a low-priority thread for each verification, which a loaded machine starves
   * for a second or more; the others use the walk both run, in this process.
   */
  everyWay?: boolean;
}

// Two walks: traces 1-5 are the first assessment's (5 decides self-care by s-short-dull), 6-10 the second's.
const tampers: Tamper[] = [
  // Compact traces are stored packed: the edit is made to the text they pack, packed again.
  {
    name: 'an altered outcome',
    edit: (db, { trace }) => rewriteSealedText(db, trace(5), (text) => text.replace('"self_care"', '"escalate"')),
    brokenAt: 5,
    reason: /content no longer matches its hash/,
    read: ({ trace }) => `/v1/traces/${trace(5)}`,
  },
  {
    name: 'its packed bytes corrupted',
    edit: async (db, { trace }) => {
      const { packed } = await db.selectFrom('traces').select('packed').where('id', '=', trace(5)).executeTakeFirstOrThrow();
      const corrupted = Buffer.from(packed!);
      const middle = corrupted.length >> 1;
      corrupted[middle] = corrupted[middle]! ^ 0xff;
      await db.updateTable('traces').set({ packed: corrupted }).where('id', '=', trace(5)).execute();
    },
    brokenAt: 5,
    reason: /cannot be unpacked|content no longer matches its hash/,
    read: ({ trace }) => `/v1/traces/${trace(5)}`,
  },
  {
    // Inflating stops at the end of the deflate stream: what follows it is no part of the text hashed.
    name: 'bytes appended after the packed content',
    edit: async (db, { trace }) => {
      const { packed } = await db.selectFrom('traces').select('packed').where('id', '=', trace(5)).executeTakeFirstOrThrow();
      const appended = Buffer.concat([Buffer.from(packed!), Buffer.from('{"outcome":"escalate","note":"edited by X"}')]);
      await db.updateTable('traces').set({ packed: appended }).where('id', '=', trace(5)).execute();
    },
    brokenAt: 5,
    reason: /bytes follow the packed content/,
    read: ({ trace }) => `/v1/traces/${trace(5)}`,
    everyWay: true,
  },
  {
    name: 'text written beside the packed content',
    sql: () => [`update traces set body = '{"result":"forged"}' where seq = 5`],
    brokenAt: 5,
    reason: /holds text beside its packed content/,
    read: ({ trace }) => `/v1/traces/${trace(5)}`,
  },
  {
    // The version a packed trace names gives the dictionary it is unpacked with: here one stored
    // under a name its content does not hash to.
    name: 'version_hash edited',
    sql: () => [
      `insert into rule_set_versions (hash, pathway_id, version, content, first_used_at) values ('${'0'.repeat(64)}', 'sample', '9.9.9', '{}', '2026-01-01T00:00:00.000Z') on conflict do nothing`,
      `update traces set version_hash = '${'0'.repeat(64)}' where seq = 5`,
    ],
    brokenAt: 5,
    reason: /names rule-set version 0{64}, and no stored version has that content/,
    read: ({ trace }) => `/v1/traces/${trace(5)}`,
  },
  { name: 'an altered previous hash', sql: () => [`update traces set prev_hash = (select hash from traces where seq = 1) where seq = 3`], brokenAt: 3, reason: /does not follow/ },
  // Each indexed column a list filters on or a look-up finds by, edited to another plausible value.
  { name: 'outcome_kind edited', sql: () => [`update traces set outcome_kind = 'escalate' where seq = 5`], brokenAt: 5, reason: /stored outcome_kind disagrees/, read: () => '/v1/traces?outcomeKind=escalate' },
  { name: 'disposition edited', sql: () => [`update traces set disposition = 'ED-999' where seq = 5`], brokenAt: 5, reason: /stored disposition disagrees/, read: () => '/v1/traces?disposition=ED-999' },
  { name: 'rule_id edited', sql: () => [`update traces set rule_id = 'rf-emergency' where seq = 5`], brokenAt: 5, reason: /stored rule_id disagrees/, read: () => '/v1/traces?ruleId=rf-emergency' },
  {
    name: 'assessment_id edited',
    sql: ({ assessments }) => [`update traces set assessment_id = '${assessments[1]}' where seq = 5`],
    brokenAt: 5,
    reason: /stored assessment_id disagrees/,
    read: ({ assessments }) => `/v1/assessments/${assessments[1]}/traces`,
  },
  {
    name: 'created_at edited',
    sql: () => [`update traces set created_at = '2000-01-01T00:00:00.000Z' where seq = 5`],
    brokenAt: 5,
    reason: /stored created_at disagrees/,
    read: () => '/v1/traces?to=2000-01-02T00:00:00Z',
  },
  {
    name: "two traces' ids swapped",
    sql: ({ trace }) => [`update traces set id = 'swapping' where seq = 3`, `update traces set id = '${trace(3)}' where seq = 4`, `update traces set id = '${trace(4)}' where seq = 3`],
    brokenAt: 3,
    reason: /stored id disagrees/,
    // The row now found by trace 3's id is trace 4's.
    read: ({ trace }) => `/v1/traces/${trace(3)}`,
    readFinds: 4,
    everyWay: true,
  },
  { name: 'a deleted row', sql: () => [`delete from traces where seq = 4`], brokenAt: 4, reason: /missing or out of order/ },
  { name: 'the last row deleted', sql: () => [`delete from traces where seq = 10`], brokenAt: 10, reason: /chain head records 10 traces/, everyWay: true },
  {
    name: 'two rows swapped',
    sql: () => [`update traces set seq = -1 where seq = 6`, `update traces set seq = 6 where seq = 7`, `update traces set seq = 7 where seq = -1`],
    brokenAt: 6,
    reason: /does not follow|altered/,
  },
];

t.test('tampering with any stored field is found by verify and refused by reads', async (t) => {
  const { app, file } = await appWithDb(t);
  const first = await walk(app);
  const second = await walk(app);
  const traceIds = [...first.traceIds, ...second.traceIds];
  const ids = { trace: (seq: number) => traceIds[seq - 1]!, assessments: [first.id, second.id] as [string, string] };
  // Each tamper starts from the untouched chain: the rows are put back after it.
  const rows = await app.store.read.selectFrom('traces').selectAll().orderBy('seq').execute();
  const head = await app.store.read.selectFrom('trace_chain').selectAll().execute();
  const restore = () =>
    withRawDatabase(databaseUrlOf(app), async (db) => {
      await db.deleteFrom('traces').execute();
      await db.insertInto('traces').values(rows).execute();
      await db.updateTable('trace_chain').set(head[0]!).execute();
    });
  for (const tamper of tampers) {
    await t.test(`${tamper.name}: found at sequence ${tamper.brokenAt}`, async (t) => {
      for (const statement of tamper.sql?.(ids) ?? []) {
        await rawSql(app, statement);
      }
      if (tamper.edit) await withRawDatabase(databaseUrlOf(app), (db) => tamper.edit!(db, ids));
      const verdict = await app.traces.verify(app.store.read);
      t.match(verdict, { ok: false, brokenAt: tamper.brokenAt, reason: tamper.reason });
      if (tamper.read) {
        t.has(verdict, { traceId: ids.trace(tamper.brokenAt) }, 'the verdict names the trace by its sealed id');
        const refused = await get(app, tamper.read(ids), STAFF.clinician);
        t.equal(refused.status, 500, `${tamper.read(ids)} does not serve the edited trace`);
        const found = tamper.readFinds ?? tamper.brokenAt;
        t.match(refused.body, { title: 'Trace altered', detail: new RegExp(`trace ${found} \\(id ${ids.trace(found)}\\) has been altered`) });
      }
      if (tamper.everyWay) {
        t.has(await verifyOnline(app), { state: 'done', verdict }, 'GET /v1/traces/verify gives the same verdict');
        const cli = await traces(file, ['verify']);
        t.equal(cli.code, 1, 'the command exits 1');
        t.match(cli.stdout, new RegExp(`BROKEN at sequence ${tamper.brokenAt}: .*${tamper.reason.source}`));
      }
      await restore();
    });
  }
  t.match((await verifyOnline(app)).verdict, { ok: true, verified: 10 }, 'and put back, the chain verifies again');
});
