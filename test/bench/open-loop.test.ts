import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { openLoop } from '../../bench/open-loop.js';

/** A real HTTP server on a free port, answering with `handle`, counting what it was sent. */
async function server(t: Test, handle: (n: number, req: IncomingMessage, res: ServerResponse) => void, keepAliveTimeoutMs = 5000): Promise<{ base: string; received: () => number }> {
  let n = 0;
  const s = createServer((req, res) => {
    n += 1;
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      (req as IncomingMessage & { body: string }).body = body;
      handle(n, req, res);
    });
  });
  s.keepAliveTimeout = keepAliveTimeoutMs;
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return { base: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, received: () => n };
}

const json = (res: ServerResponse, status: number, value: unknown) => {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
};

t.test('every request sent is answered and counted, with its body and headers as given', async (t) => {
  const seen: string[] = [];
  const s = await server(t, (_n, req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers['x-token']} ${(req as IncomingMessage & { body: string }).body}`);
    json(res, 200, { ok: true });
  });
  let i = 0;
  const r = await openLoop(s.base, {
    rate: 300,
    seconds: 1,
    connections: 5,
    next: () => ({ method: 'POST', path: `/step/${i}`, headers: { 'content-type': 'application/json', 'x-token': `t${i}` }, body: JSON.stringify({ i: i++ }) }),
  });
  t.equal(r.errors, 0);
  t.equal(r.rps, s.received(), 'one answer counted for each request the server had');
  t.ok(r.rps > 150 && r.rps < 450, `about the set rate (${r.rps}/s for 300/s)`);
  // Connections run side by side, so the server may read them in any order.
  t.same([...seen].sort(), Array.from({ length: seen.length }, (_, k) => `POST /step/${k} t${k} {"i":${k}}`).sort(), 'each request with its own path, headers and body, none twice');
});

t.test('latency counts from when a request was due, so waiting for a busy connection counts', async (t) => {
  // One connection, 20 ms an answer, 200 requests a second: requests queue behind each other.
  const s = await server(t, (_n, _req, res) => void setTimeout(() => json(res, 200, {}), 20));
  const r = await openLoop(s.base, { rate: 200, seconds: 0.5, connections: 1, next: () => ({ method: 'GET', path: '/' }) });
  t.equal(r.errors, 0);
  t.ok(r.p50 >= 20, `p50 ${r.p50} ms is at least the server's 20 ms`);
  // About 100 due in half a second, 50 a second answered: the last wait a second or more.
  t.ok(r.p99 > 500, `p99 ${r.p99} ms includes the time spent waiting to be sent`);
});

t.test('answers of 300 and over are errors, and still answers', async (t) => {
  let failures = 0;
  const s = await server(t, (n, _req, res) => {
    if (n % 3 === 0) {
      failures += 1;
      json(res, 503, { title: 'busy' });
    } else json(res, 200, {});
  });
  const r = await openLoop(s.base, { rate: 200, seconds: 0.5, connections: 4, next: () => ({ method: 'GET', path: '/' }) });
  t.ok(failures > 0);
  t.equal(r.errors, failures);
  t.equal(r.rps * 0.5, s.received());
});

t.test('a connection the server drops loses its request (an error) and is opened again', async (t) => {
  let dropped = 0;
  const s = await server(t, (n, req, res) => {
    if (n % 10 === 0) {
      dropped += 1;
      req.socket.destroy();
    } else json(res, 200, {});
  });
  const r = await openLoop(s.base, { rate: 300, seconds: 1, connections: 2, next: () => ({ method: 'GET', path: '/' }) });
  t.ok(dropped > 5, `${dropped} dropped`);
  t.equal(r.errors, dropped);
  t.equal(r.rps, s.received() - dropped, 'every request not dropped answered');
});

t.test('connections the server closes while idle are opened again, and requests due meanwhile still go', async (t) => {
  // The server drops each connection 5 ms after its last answer: at 50 a second on two
  // connections, most requests fall due while their connection is gone or being opened again.
  const s = await server(t, (_n, _req, res) => json(res, 200, {}), 5);
  let sent = 0;
  const r = await openLoop(s.base, { rate: 50, seconds: 1, connections: 2, next: () => (sent++, { method: 'GET', path: '/' }) });
  t.ok(r.rps > 20, `${r.rps} answered`);
  // A request written just as the server closes its connection is lost, and counted so.
  t.equal(r.rps + r.errors, sent, 'every request sent is answered or counted as lost');
  t.equal(r.rps, s.received(), 'each answer the server gave is counted');
});

t.test('an answer it cannot frame (no content-length) ends the run with an error saying so', async (t) => {
  const s = await server(t, (_n, _req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('part');
    res.end();
  });
  await t.rejects(openLoop(s.base, { rate: 100, seconds: 1, connections: 2, next: () => ({ method: 'GET', path: '/' }) }), /an answer without content-length: HTTP\/1.1 200 OK/);
});

t.test('a server that is not there fails the run', async (t) => {
  // Port 1 on the loopback: nothing listens there.
  await t.rejects(openLoop('http://127.0.0.1:1', { rate: 10, seconds: 0.2, connections: 1, next: () => ({ method: 'GET', path: '/' }) }), /ECONNREFUSED/);
});
