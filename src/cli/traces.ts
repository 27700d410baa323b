#!/usr/bin/env node
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { openStore } from '../store/database.js';
import { traceRepository } from '../store/traces.js';
import { replay, versionResolver } from '../traces/replay.js';
import { Triage } from '../triage/triage.js';
import { exitWith } from './run.js';

/**
 * npm run traces -- verify | export --from <iso> --to <iso> [--out file] | replay <traceId>
 * Reads the database named by DATABASE_URL. Exit codes: 0 ok, 1 a finding, 2 usage.
 */
const USAGE = `usage: traces verify
       traces export [--from <ISO date-time>] [--to <ISO date-time>] [--pathway <id>] [--out <file>]
       traces replay <traceId>`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { from: { type: 'string' }, to: { type: 'string' }, pathway: { type: 'string' }, out: { type: 'string' } },
    });
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, id] = parsed.positionals;
  const { from, to, pathway, out } = parsed.values;
  for (const [name, value] of [['--from', from], ['--to', to]] as const) {
    if (value !== undefined && Number.isNaN(Date.parse(value))) {
      console.error(`${name} ${value} is not an ISO date-time\n${USAGE}`);
      return 2;
    }
  }
  if (!command || !['verify', 'export', 'replay'].includes(command) || (command === 'replay' && !id)) {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig();
  const store = await openStore(config.DATABASE_URL);
  const traces = traceRepository(store.db);
  try {
    switch (command) {
      case 'verify': {
        const verdict = await traces.verify();
        if (verdict.ok) {
          console.log(`ok: ${verdict.verified} traces verified, chain intact`);
          return 0;
        }
        console.log(`BROKEN at sequence ${verdict.brokenAt}: ${verdict.reason} (${verdict.verified} verified before it)`);
        return 1;
      }
      case 'export': {
        const sink: Writable = out ? createWriteStream(out) : process.stdout;
        let count = 0;
        const iso = (v: string | undefined) => (v ? new Date(v).toISOString() : undefined);
        for await (const body of traces.bodies({ from: iso(from), to: iso(to), pathwayId: pathway })) {
          if (!sink.write(JSON.stringify(body) + '\n')) {
            await once(sink, 'drain');
          }
          count += 1;
        }
        if (out) {
          await new Promise<void>((resolve) => sink.end(resolve));
        }
        console.error(`exported ${count} traces`);
        return 0;
      }
      default: {
        const trace = await traces.get(id!);
        if (!trace) {
          console.error(`no trace ${id}`);
          return 1;
        }
        const triage = new Triage([], { timeoutMs: config.TRIAGE_EVAL_TIMEOUT_MS });
        const report = await replay(trace, await versionResolver(triage, traces)(trace.pathway.hash), triage);
        if (report.identical) {
          console.log(`identical: trace ${report.traceId} replays to the same decision on version ${report.versionHash.slice(0, 12)}`);
          return 0;
        }
        console.log(`DIFFERENT: trace ${report.traceId} on version ${report.versionHash.slice(0, 12)}`);
        for (const d of report.differences) {
          console.log(`  ${d}`);
        }
        return 1;
      }
    }
  } finally {
    await store.close();
  }
}

exitWith(main(process.argv.slice(2)));
