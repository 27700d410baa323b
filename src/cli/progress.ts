import type { Writable } from 'node:stream';

export interface Progress {
  update(done: number): void;
  /** Clears the bar (a terminal) so the result line stands alone. */
  end(): void;
}

const BAR_WIDTH = 30;
const REDRAW_MS = 100;

/**
 * Progress over `total` items: on a terminal, a bar redrawn in place; anywhere else (a log, a
 * pipe, a CI job) a plain line each time another tenth is done, with no control characters.
 */
export function progress(label: string, total: number, out: Writable & { isTTY?: boolean }): Progress {
  const started = performance.now();
  let lastDraw = 0;
  let lastTenth = 0;
  const count = (n: number) => n.toLocaleString('en-GB');
  if (!out.isTTY) {
    return {
      update(done) {
        const tenth = total > 0 ? Math.floor((done / total) * 10) : 10;
        if (tenth > lastTenth) {
          lastTenth = tenth;
          out.write(`${label}: ${count(done)} of ${count(total)} (${tenth * 10}%)\n`);
        }
      },
      end() {},
    };
  }
  return {
    update(done) {
      const now = performance.now();
      if (now - lastDraw < REDRAW_MS && done < total) return;
      lastDraw = now;
      const share = total > 0 ? Math.min(1, done / total) : 1;
      const filled = Math.round(share * BAR_WIDTH);
      const rate = done / Math.max(0.001, (now - started) / 1000);
      const eta = rate > 0 ? Math.ceil((total - done) / rate) : 0;
      out.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${count(done)}/${count(total)}, ${count(Math.round(rate))}/s, ${eta} s left\x1b[K`);
    },
    end() {
      out.write('\r\x1b[K');
    },
  };
}
