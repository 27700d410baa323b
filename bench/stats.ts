/** Figures for the benchmark table: medians across runs, percentiles within one. */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
/** The median of several runs and, when there are several, their lowest and highest: how far one run can be trusted here. */
export function medianWithRange(xs: number[], format: (x: number) => string): string {
  const m = format(median(xs));
  return xs.length > 1 ? `${m} (${format(Math.min(...xs))} to ${format(Math.max(...xs))})` : m;
}

export interface Row {
  kind: string;
  what: string;
  throughput?: string;
  median?: string;
  p99?: string;
  /** p50 / p99 of the same requests inside the server (HTTP figures). */
  inServer?: string;
  /** Server CPU a request, from /proc: every thread (the event loop, the busiest other thread). */
  cpu?: string;
  /** The longest the load generator's own event loop was held up (HTTP figures). */
  generatorStall?: string;
  ratio?: string;
  /** Throughput over a bare Fastify echo's of the same body in the same round (issue 30). */
  bareRatio?: string;
  /** The target for this figure and whether this run met it. */
  target?: { text: string; met: boolean };
}

/** The table `npm run bench` prints: one row per figure, with its target where it has one. */
export class Table {
  readonly rows: Row[] = [];

  add(row: Row): void {
    this.rows.push(row);
  }

  /**
   * What makes a quick pass unfit to trust as a harness check: a section with no rows, a figure
   * that is not a number, a request that failed.
   */
  smokeFaults(sections: string[]): string[] {
    const faults = sections.filter((kind) => !this.rows.some((r) => r.kind === kind)).map((kind) => `no ${kind} figures`);
    for (const r of this.rows) {
      const figures = [r.throughput, r.median, r.p99, r.inServer, r.ratio, r.bareRatio].filter((x): x is string => x !== undefined);
      if (!figures.length || figures.some((x) => /NaN|Infinity|undefined/.test(x))) faults.push(`${r.kind} ${r.what}: figures missing (${figures.join(', ')})`);
      const failed = /\((\d+) non-2xx\)/.exec(r.what);
      if (failed && failed[1] !== '0') faults.push(`${r.kind} ${r.what}: requests failed`);
    }
    return faults;
  }

  render(): string {
    const header = [
      'kind',
      'what',
      'throughput',
      'median / p50',
      'p99',
      'in the server: p50 / p99',
      'server CPU a request (event loop, busiest other thread)',
      'load generator stalled',
      'ratio to baseline',
      'ratio to bare Fastify',
      'target',
    ];
    const cells = this.rows.map((r) => [
      r.kind,
      r.what,
      r.throughput ?? '',
      r.median ?? '',
      r.p99 ?? '',
      r.inServer ?? '',
      r.cpu ?? '',
      r.generatorStall ?? '',
      r.ratio ?? '',
      r.bareRatio ?? '',
      r.target ? `${r.target.text}: ${r.target.met ? 'met' : 'NOT met'}` : '',
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
    const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
    return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
  }
}
