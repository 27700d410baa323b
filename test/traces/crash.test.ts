import t from 'tap';
import path from 'node:path';
import { DecisionLoad } from '../decision-load.js';
import { startServer, tempDir } from '../helpers.js';

/**
 * Crash consistency: a real server process is killed with SIGKILL in the middle of load. Every
 * decision it acknowledged with a 2xx must still have its trace afterwards, and the chain must
 * verify. Repeated, on the same database, so each restart also recovers the last crash.
 */
t.test('SIGKILL mid-load loses no acknowledged decision and leaves a verifiable chain', async (t) => {
  const db = path.join(tempDir(t), 'triage.db');
  const load = new DecisionLoad();
  for (let round = 1; round <= 3; round++) {
    const { child, base } = await startServer(t, { DATABASE_URL: db });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const before = load.acknowledged.length;
    load.start(base);
    // Kill once a good number of decisions are in flight and acknowledged.
    while (load.acknowledged.length < before + 150) {
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    await exited;
    await load.stop();
    t.ok(load.acknowledged.length > before, `round ${round}: ${load.acknowledged.length - before} decisions acknowledged before the kill`);
  }

  const { base } = await startServer(t, { DATABASE_URL: db });
  await load.checkKept(t, base);
});
