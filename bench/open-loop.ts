import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { percentile } from './stats.js';

export interface HttpRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface OpenLoopResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/**
 * Requests sent at a set rate whatever the server does (Poisson arrivals), over a pool of
 * keep-alive connections, each latency taken from when its request was due: the latency a
 * service shows at a given load. autocannon's own rate option sends each second's quota as one
 * burst and then waits, which measures a burst, not a load; its latencies are those of a
 * saturated server whatever the rate.
 */
export async function openLoop(base: string, options: { rate: number; seconds: number; connections: number; next: () => HttpRequest }): Promise<OpenLoopResult> {
  // undici rather than node:http: at these rates node:http's client costs the shared cores
  // two to three times as much CPU a request, CPU the server under test would not get.
  const pool = new Pool(base, { connections: options.connections });
  const latencies: number[] = [];
  const inFlight = new Set<Promise<void>>();
  let errors = 0;

  const send = (dueAt: number): void => {
    const { method, path, headers, body } = options.next();
    const done = pool.request({ method, path, headers, body }).then(
      async (res) => {
        await res.body.dump();
        latencies.push(performance.now() - dueAt);
        if (res.statusCode >= 300) errors += 1;
      },
      () => {
        errors += 1;
      },
    );
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };

  const start = performance.now();
  const end = start + options.seconds * 1000;
  let due = start;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (due <= now && due < end) {
        send(due);
        due += (-Math.log(1 - Math.random()) * 1000) / options.rate;
      }
      if (due >= end) {
        resolve();
        return;
      }
      setTimeout(tick, Math.min(1, due - now));
    };
    tick();
  });
  await Promise.all(inFlight);
  await pool.close();
  return {
    rps: latencies.length / options.seconds,
    p50: Math.round(percentile(latencies, 0.5)),
    p99: Math.round(percentile(latencies, 0.99)),
    errors,
  };
}
