import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { InvalidVerifyRange } from '../errors.js';
import { createStoreServices } from '../services.js';
import { replay } from '../traces/replay.js';
import { formatAnchor, parseAnchor } from '../traces/trace.js';
import { progress } from './progress.js';
import { writeLine, type CliIo } from './run.js';

/**
 * npm run traces -- verify [range] | head | export --from <iso> --to <iso> [--out file] | replay <traceId>
 * Reads the database named by DATABASE_URL. Exit codes: 0 ok, 1 a finding, 2 usage.
 */
const USAGE = `usage: traces verify [--from <seq>] [--to <seq>] [--anchor <SEQ:HASH> [--since-anchor]]
       traces head      (the SEQ:HASH to keep elsewhere, for verify --anchor)
       traces export [--from <ISO date-time>] [--to <ISO date-time>] [--pathway <id>] [--out <file>]
       traces replay <traceId>`;

/** traces with these arguments: the exit code; output to io.stdout and io.stderr. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { from: { type: 'string' }, to: { type: 'string' }, pathway: { type: 'string' }, out: { type: 'string' }, anchor: { type: 'string' }, 'since-anchor': { type: 'boolean' } },
    });
  } catch (err) {
    writeLine(io.stderr, `${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, id] = parsed.positionals;
  const { from, to, pathway, out } = parsed.values;
  // verify's --from and --to are sequence numbers; export's are date-times.
  const bound = command === 'verify' ? { test: (v: string) => /^\d+$/.test(v), what: 'a sequence number' } : { test: (v: string) => !Number.isNaN(Date.parse(v)), what: 'an ISO date-time' };
  for (const [name, value] of [
    ['--from', from],
    ['--to', to],
  ] as const) {
    if (value !== undefined && !bound.test(value)) {
      writeLine(io.stderr, `${name} ${value} is not ${bound.what}\n${USAGE}`);
      return 2;
    }
  }
  const anchor = parsed.values.anchor === undefined ? undefined : parseAnchor(parsed.values.anchor);
  if (parsed.values.anchor !== undefined && !anchor) {
    writeLine(io.stderr, `--anchor ${parsed.values.anchor} is not SEQ:HASH (a sequence number, a colon, 64 hex digits)\n${USAGE}`);
    return 2;
  }
  if (!command || !['verify', 'head', 'export', 'replay'].includes(command) || (command === 'replay' && !id)) {
    writeLine(io.stderr, USAGE);
    return 2;
  }
  const services = await createStoreServices(loadConfig(io.env));
  const {
    traces,
    store: { read },
  } = services;
  try {
    switch (command) {
      case 'verify': {
        let range;
        try {
          range = await traces.range(read, { from: from === undefined ? undefined : Number(from), to: to === undefined ? undefined : Number(to), anchor, sinceAnchor: parsed.values['since-anchor'] });
        } catch (err) {
          if (!(err instanceof InvalidVerifyRange)) throw err;
          writeLine(io.stderr, `${err.message}\n${USAGE}`);
          return 2;
        }
        const bar = progress('verifying', range.to - range.from + 1, io.stdout);
        const verdict = await traces.walk(read, range, (p) => bar.update(p.verified));
        bar.end();
        const span = range.from > 1 || range.headHash === undefined ? ` (traces ${range.from} to ${range.to})` : '';
        if (verdict.ok) {
          writeLine(io.stdout, `ok: ${verdict.verified} traces verified${span}, chain intact${anchor ? `, anchor ${anchor.seq} reached` : ''}`);
          return 0;
        }
        writeLine(io.stdout, `BROKEN at sequence ${verdict.brokenAt}: ${verdict.reason} (${verdict.verified} verified before it)`);
        return 1;
      }
      case 'head': {
        const head = await traces.head(read);
        if (!head) {
          writeLine(io.stderr, 'the chain is empty: no traces yet');
          return 1;
        }
        writeLine(io.stdout, formatAnchor(head));
        writeLine(io.stderr, `the chain head: trace ${head.seq}. Keep this line outside this database; later, \`traces verify --anchor ${head.seq}:...\` fails if the chain no longer reaches it.`);
        return 0;
      }
      case 'export': {
        const sink: Writable = out ? createWriteStream(path.resolve(io.cwd, out)) : io.stdout;
        let count = 0;
        const iso = (v: string | undefined) => (v ? new Date(v).toISOString() : undefined);
        for await (const body of traces.bodies(read, { from: iso(from), to: iso(to), pathwayId: pathway })) {
          if (!sink.write(JSON.stringify(body) + '\n')) {
            await once(sink, 'drain');
          }
          count += 1;
        }
        if (out) {
          await new Promise<void>((resolve) => sink.end(resolve));
        }
        writeLine(io.stderr, `exported ${count} traces`);
        return 0;
      }
      default: {
        const trace = await traces.get(read, id!);
        if (!trace) {
          writeLine(io.stderr, `no trace ${id}`);
          return 1;
        }
        const report = await replay(trace, await services.versionFor(trace.pathway.hash), services.triage);
        if (report.identical) {
          writeLine(io.stdout, `identical: trace ${report.traceId} replays to the same decision on version ${report.versionHash.slice(0, 12)}`);
          return 0;
        }
        writeLine(io.stdout, `DIFFERENT: trace ${report.traceId} on version ${report.versionHash.slice(0, 12)}`);
        for (const d of report.differences) {
          writeLine(io.stdout, `  ${d}`);
        }
        return 1;
      }
    }
  } finally {
    await services.close();
  }
}
