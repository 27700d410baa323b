import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmdirSync, statfsSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { DecisionLoad } from '../decision-load.js';
import { startServer } from '../helpers.js';

/**
 * SQLite on a real, small file system (an 8 MiB tmpfs) that fills up under load: writes get
 * 507 problem+json (never 500), readiness names the full disk until a write succeeds, the log
 * names it too, and freeing a little space is enough for the service to carry on by itself,
 * without a restart, having lost nothing it acknowledged (a SIGKILL afterwards included).
 */
const MiB = 1024 * 1024;

function mountable(): string | false {
  if (process.env.CI === 'true') return false;
  const dir = mkdtempSync(path.join(tmpdir(), 'triage-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir]);
    return false;
  } catch {
    return 'needs to mount a tmpfs (root, or a container allowed to mount); CI=true makes this a failure';
  } finally {
    rmdirSync(dir);
  }
}

/** A tmpfs of `size` mounted for this test, unmounted at teardown. */
function smallDisk(t: Test, size: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'triage-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  t.teardown(() => {
    // Lazily: a server killed a moment ago may still be letting go of its files.
    execFileSync('umount', ['-l', dir]);
    rmdirSync(dir);
  });
  return dir;
}

const freeBytes = (dir: string): number => {
  const { bavail, bsize } = statfsSync(dir);
  return bavail * bsize;
};

async function ready(base: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/health/ready`);
  return { status: res.status, body: await res.json() };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}

t.test('a full disk: 507, not ready until a write succeeds, and freeing 1 MiB is enough to carry on', { skip: mountable() }, async (t) => {
  const dir = smallDisk(t, '8m');
  const db = path.join(dir, 'triage.db');
  const { child, base } = await startServer(t, { DATABASE_URL: db });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  t.ok(existsSync(`${db}-reserve`), 'space is reserved beside the database');

  // Everything but 1.5 MiB taken by something else on the same file system.
  const filler = path.join(dir, 'filler');
  writeFileSync(filler, Buffer.alloc(Math.max(0, freeBytes(dir) - 1.5 * MiB)));
  const load = new DecisionLoad();
  // The first time the disk fills, the reserve is released and the log's space given back, so
  // the service may carry on for a while; load it until even that space is gone.
  let full = { status: 200, body: {} as any };
  for (let round = 1; full.status === 200; round++) {
    t.ok(round <= 10, `filling the disk, round ${round}`);
    load.start(base, 4);
    await until(
      'readiness reports the full disk',
      async () => {
        const r = await ready(base);
        return r.status === 503 && /^disk full/.test(r.body.reason);
      },
      60_000,
    );
    await load.stop();
    full = await ready(base);
  }
  t.match(full, { status: 503, body: { status: 'not_ready', reason: /^disk full since .*: database or disk is full/ } }, 'not ready: its own probe write fails');
  t.notOk(existsSync(`${db}-reserve`), 'the reserve was released');
  t.ok(load.refused.length > 0, `${load.refused.length} requests refused once the disk was full`);
  const wrong = load.refused.filter((r) => !(r.status === 507 && r.contentType.startsWith('application/problem+json')));
  t.same(wrong.slice(0, 3), [], 'every refusal was a 507 problem+json');
  t.match(load.refused[0], { body: { title: 'Storage full', status: 507 } });
  t.match(log, /"msg":"database disk full"/, 'the log names the full disk');
  t.notMatch(log, /connection error|reconnecting/, 'and does not call it a connection error');

  // Freeing a little space is enough: the service carries on by itself.
  truncateSync(filler, statSync(filler).size - MiB);
  const recovered = await until('ready again', async () => (await ready(base)).status === 200, 10_000);
  t.pass(`ready again ${recovered} ms after 1 MiB was freed`);
  const before = load.acknowledged.length;
  load.start(base, 1);
  await until('decisions acknowledged again', async () => load.acknowledged.length > before + 3, 10_000);
  await load.stop();
  await load.checkKept(t, base);

  // Durable as well: killed outright and started again, it still has everything it acknowledged.
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  const again = await startServer(t, { DATABASE_URL: db });
  await load.checkKept(t, again.base);
});
