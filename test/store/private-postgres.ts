import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Test } from 'tap';

/**
 * A PostgreSQL cluster of this test's own (initdb + pg_ctl, run as the postgres OS user, on a free
 * port, in a temporary directory removed at teardown), so a test can stop and restart the server
 * without touching the shared one on 5432 that other suites use.
 */
export interface PrivatePostgres {
  /** A fresh database on the private cluster (trust auth, user postgres). */
  database(): Promise<string>;
  /** pg_ctl stop -m fast: clients are told 57P01 and disconnected, as in a restart. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Runs SQL on the cluster's maintenance database. */
  admin(statement: string): Promise<pg.QueryResult>;
}

const run = promisify(execFile);

function binaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const bin = versions.map((v) => path.join(root, v, 'bin')).find((dir) => existsSync(path.join(dir, 'pg_ctl')) && existsSync(path.join(dir, 'initdb')));
  return bin && userInfo().uid === 0 ? bin : undefined;
}

/**
 * Why a private cluster cannot be started here (a skip message), or false. With CI=true it is
 * always false, so a missing PostgreSQL fails the run instead of skipping it.
 */
export function privatePostgresMissing(): string | false {
  if (process.env.CI === 'true' || binaries()) return false;
  return 'needs initdb and pg_ctl under /usr/lib/postgresql/*/bin and root (to run them as the postgres user); CI=true makes this a failure';
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function privatePostgres(t: Test): Promise<PrivatePostgres> {
  const bin = binaries();
  if (!bin) throw new Error(`no private PostgreSQL: ${privatePostgresMissing() || 'initdb/pg_ctl missing or not root'}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'triage-pg-'));
  const data = path.join(dir, 'data');
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, id('-u'), id('-g'));
  const port = await freePort();
  const asPostgres = (command: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', path.join(bin, command), ...args], { encoding: 'utf8' });
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  // fsync off: a fast, clean stop still writes everything, and nothing here outlives a power cut.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const pgCtl = (...args: string[]) => asPostgres('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '30', ...args]);
  let running = false;
  const cluster: PrivatePostgres = {
    async start() {
      await pgCtl('-o', options, 'start');
      running = true;
    },
    async stop() {
      running = false;
      await pgCtl('-m', 'fast', 'stop');
    },
    async admin(statement) {
      const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
      await client.connect();
      try {
        return await client.query(statement);
      } finally {
        await client.end();
      }
    },
    async database() {
      const name = `triage_${Math.random().toString(16).slice(2, 10)}`;
      await cluster.admin(`create database ${name}`);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
  };
  // Servers still connected when this runs see the stop as one more outage; they are killed next.
  t.teardown(async () => {
    if (running) await pgCtl('-m', 'immediate', 'stop').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  await cluster.start();
  return cluster;
}
