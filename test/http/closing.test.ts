import { connect, type Socket } from 'node:net';
import t from 'tap';
import { BASIC_RULES, testApp } from '../helpers.js';

/** Reads one HTTP/1.1 response (status line, headers and a content-length body) off a socket. */
function response(socket: Socket): Promise<{ status: number; headers: Record<string, string>; body: any }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString();
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const body = text.slice(end + 4);
      if (body.length < Number(headers['content-length'])) return;
      socket.off('data', onData);
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: JSON.parse(body) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

t.test('a request arriving while the server closes gets a problem+json 503 with Retry-After', async (t) => {
  const app = await testApp(t, { rulesDir: BASIC_RULES, env: { TRIAGE_WORKERS: '1' } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  // Half a request before the close begins (so the connection is busy, not idle, and stays
  // open), the rest once it has begun: as a load balancer's request in flight would arrive.
  socket.write('GET /v1/pathways HTTP/1.1\r\nhost: localhost\r\n');
  // Nothing to poll for: the server says nothing until the request is complete.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const closing = app.close();
  while (app.server.listening) await new Promise((resolve) => setImmediate(resolve));
  const answer = response(socket);
  socket.write('\r\n');
  const res = await answer;
  t.equal(res.status, 503);
  t.match(res.headers['content-type'], /^application\/problem\+json/);
  t.ok(Number(res.headers['retry-after']) > 0, `Retry-After: ${res.headers['retry-after']}`);
  t.equal(res.headers.connection, 'close');
  t.match(res.body, { type: String, title: 'Shutting down', status: 503, detail: /shutting down/, instance: '/v1/pathways' });
  await closing;
});
