import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const RULES = path.join(ROOT, 'rules');
export const ADMIN_KEY = 'bench-key-admin-0000000000';
export const HANDLER_KEY = 'bench-key-handler-00000000';
export const ENCRYPTION_KEYS = `k1:${Buffer.alloc(32, 1).toString('base64')}`;

export interface BenchServer {
  base: string;
  pid: number;
  /** Resident set size of the server process in MiB (Linux /proc), or undefined elsewhere. */
  rssMiB(): number | undefined;
  /** Where its log ends now: pass to responseTimes to read the requests logged after this. */
  logMark(): number;
  /**
   * Milliseconds each request took inside the server (Fastify's responseTime: from reading the
   * request to the last byte of the answer written), for the requests completed since `mark`.
   */
  responseTimes(mark: number): number[];
  stop(): Promise<void>;
}

/** A process's threads and the CPU each has used so far (Linux /proc; empty elsewhere). */
export function threadCpu(pid: number): { tid: number; name: string; seconds: number }[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tids.flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Fields after the name, which is in parentheses and may hold spaces: state is field 3, utime 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return [{ tid: Number(tid), name: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(), seconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS }];
    } catch {
      return []; // a thread that ended meanwhile
    }
  });
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Waits up to 30 s for a started process to answer `probe` with a 2xx; fails at once if it exits. */
async function untilUp(child: ChildProcess, probe: () => Promise<Response>, exited: () => string): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(exited());
    const up = await probe().then(
      (r) => r.ok,
      () => false,
    );
    if (up) return;
    if (Date.now() - started > 30_000) throw new Error(`process ${child.pid} did not answer in 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The real service, as production runs it (SQLite file, durable traces, info logs), in its own
 * process. Its logs go to a file, as they would to a collector, so reading them costs the load
 * generator nothing.
 */
export async function startServer(dir: string, database: string): Promise<BenchServer> {
  const port = await freePort();
  const logFile = path.join(dir, 'server.log');
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/server.js')], {
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'info',
      DATABASE_URL: `sqlite:${database}`,
      RULES_DIR: RULES,
      BENCH_ECHO: 'true',
      RATE_LIMIT_PER_MINUTE: '1000000',
      STAFF_RATE_LIMIT_PER_MINUTE: '1000000',
      TRIAGE_API_KEYS: `admin:${ADMIN_KEY},call-handler:${HANDLER_KEY}`,
      CONTACT_ENCRYPTION_KEYS: ENCRYPTION_KEYS,
    },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const base = `http://127.0.0.1:${port}`;
  await untilUp(
    child,
    () => fetch(`${base}/health/ready`),
    () => `the server exited (${child.exitCode}): ${readFileSync(logFile, 'utf8').slice(-2000)}`,
  );
  return {
    base,
    pid: child.pid!,
    rssMiB() {
      try {
        const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return kb ? Number(kb[1]) / 1024 : undefined;
      } catch {
        return undefined;
      }
    },
    logMark: () => statSync(logFile).size,
    responseTimes(mark) {
      const fd = openSync(logFile, 'r');
      const since = Buffer.alloc(statSync(logFile).size - mark);
      try {
        readSync(fd, since, 0, since.length, mark);
      } finally {
        closeSync(fd);
      }
      const times: number[] = [];
      for (const line of since.toString('utf8').split('\n')) {
        if (!line.includes('"request completed"')) continue;
        try {
          const { responseTime } = JSON.parse(line) as { responseTime?: number };
          if (typeof responseTime === 'number') times.push(responseTime);
        } catch {
          // A line cut by the mark, or still being written: one request fewer in the sample.
        }
      }
      return times;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface BareEcho {
  base: string;
  pid: number;
  stop(): Promise<void>;
}

/** The bare Fastify echo (bench/bare-echo.ts) in a process of its own. */
export async function startBareEcho(): Promise<BareEcho> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/bench/bare-echo.js')], { stdio: 'inherit', env: { ...process.env, PORT: String(port) } });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const base = `http://127.0.0.1:${port}`;
  await untilUp(
    child,
    () => fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
    () => `the bare echo exited (${child.exitCode})`,
  );
  return {
    base,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
