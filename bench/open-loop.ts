import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
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

/** One keep-alive connection, with at most one request on it at a time. */
interface Connection {
  socket: Socket;
  /** When the request on it was due, or undefined while it is free. */
  due?: number;
  /** Bytes of the answer read so far, and how many the whole answer has once its head is read. */
  read?: Buffer;
  length?: number;
  status?: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Requests sent at a set rate whatever the server does (Poisson arrivals), over keep-alive
 * connections, each latency taken from when its request was due: the latency a service shows at
 * a given load. A request due while every connection is busy waits for the first one free.
 * autocannon's own rate option sends each second's quota as one burst and then waits, which
 * measures a burst, not a load.
 *
 * HTTP/1.1 over plain sockets: each request written as one string, each answer framed by its
 * content-length (the service always sends one) and read no further than its status. undici
 * cost this machine about twice the CPU a request (150 against 75 µs), CPU that the server
 * under test, on the same two cores, did not get.
 */
export async function openLoop(base: string, options: { rate: number; seconds: number; connections: number; next: () => HttpRequest }): Promise<OpenLoopResult> {
  const { hostname, port } = new URL(base);
  const latencies: number[] = [];
  let errors = 0;
  const free: Connection[] = [];
  /** Due times of requests waiting for a connection, oldest first. */
  const waiting: number[] = [];
  let outstanding = 0;
  let stopping = false;
  let whenDone: (() => void) | undefined;
  let failure: Error | undefined;

  const send = (c: Connection, due: number): void => {
    const { method, path, headers = {}, body } = options.next();
    let text = `${method} ${path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\n`;
    for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
    if (body !== undefined) text += `content-length: ${Buffer.byteLength(body)}\r\n`;
    c.due = due;
    outstanding += 1;
    c.socket.write(`${text}\r\n${body ?? ''}`);
  };

  const settleIfDone = (): void => {
    if (stopping && outstanding === 0 && (waiting.length === 0 || failure)) whenDone?.();
  };

  /** A connection come free takes the oldest request waiting, if any. */
  const take = (c: Connection): void => {
    const due = failure ? undefined : waiting.shift();
    if (due !== undefined) send(c, due);
    else free.push(c);
    settleIfDone();
  };

  /** The request on `c` is over: answered (its status and latency) or lost. */
  const finished = (c: Connection, answer: { status: number; latency: number } | undefined): void => {
    c.due = c.read = c.length = c.status = undefined;
    outstanding -= 1;
    if (answer) latencies.push(answer.latency);
    if (!answer || answer.status >= 300) errors += 1;
    take(c);
  };

  const onData = (c: Connection, chunk: Buffer): void => {
    let read: Buffer | undefined = c.read ? Buffer.concat([c.read, chunk]) : chunk;
    while (read && c.due !== undefined) {
      let whole = c.length;
      if (whole === undefined) {
        const headEnd: number = read.indexOf(HEAD_END);
        if (headEnd < 0) break;
        const head = read.toString('latin1', 0, headEnd);
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (!length) {
          failure = new Error(`open loop: an answer without content-length: ${head.split('\r\n', 1)[0]}`);
          c.socket.destroy();
          return;
        }
        c.status = Number(head.slice(9, 12));
        c.length = whole = headEnd + HEAD_END.length + Number(length[1]);
      }
      if (read.length < whole) break;
      const rest: Buffer | undefined = read.length > whole ? read.subarray(whole) : undefined;
      finished(c, { status: c.status!, latency: performance.now() - c.due });
      read = rest;
    }
    c.read = read;
  };

  // A connection the server closes loses the request on it (an error), and is opened again.
  const reopen = (c: Connection): void => {
    const busy = c.due !== undefined;
    const at = free.indexOf(c);
    if (at >= 0) free.splice(at, 1);
    if (stopping && !busy) return;
    void open().then(
      (again) => (busy ? finished(again, undefined) : take(again)),
      (err: Error) => {
        failure ??= err;
        if (busy) {
          outstanding -= 1;
          errors += 1;
        }
        settleIfDone();
      },
    );
  };

  const open = (): Promise<Connection> =>
    new Promise((resolve, reject) => {
      const c: Connection = { socket: connect({ host: hostname, port: Number(port), noDelay: true }) };
      // Once connected, an error is followed by 'close', which handles it.
      c.socket.on('error', reject);
      c.socket.once('connect', () => {
        c.socket.on('data', (chunk: Buffer) => onData(c, chunk));
        c.socket.once('close', () => reopen(c));
        resolve(c);
      });
    });

  const opened = await Promise.allSettled(Array.from({ length: options.connections }, open));
  for (const o of opened) if (o.status === 'fulfilled') free.push(o.value);
  const refused = opened.find((o) => o.status === 'rejected');
  if (refused) {
    stopping = true;
    for (const c of free) c.socket.destroy();
    throw refused.reason;
  }
  const start = performance.now();
  const end = start + options.seconds * 1000;
  let due = start;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (due <= now && due < end) {
        const c = free.pop();
        if (c) send(c, due);
        else waiting.push(due);
        due += (-Math.log(1 - Math.random()) * 1000) / options.rate;
      }
      if (due >= end || failure) {
        resolve();
        return;
      }
      setTimeout(tick, Math.min(1, due - now));
    };
    tick();
  });
  stopping = true;
  if (outstanding > 0 || (waiting.length > 0 && !failure)) await new Promise<void>((resolve) => (whenDone = resolve));
  for (const c of free) c.socket.destroy();
  if (failure) throw failure;
  return {
    rps: latencies.length / options.seconds,
    p50: Math.round(percentile(latencies, 0.5)),
    p99: Math.round(percentile(latencies, 0.99)),
    errors,
  };
}
