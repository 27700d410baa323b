import t from 'tap';
import path from 'node:path';
import { followVerification, STAFF, startServer, tempDir } from '../helpers.js';

/**
 * Crash consistency: a real server process is killed with SIGKILL in the middle of load. Every
 * decision it acknowledged with a 2xx must still have its trace afterwards, and the chain must
 * verify. Repeated, on the same database, so each restart also recovers the last crash.
 */
const chestPainSteps: [string, unknown][] = [
  ['emergency_signs', ['none']],
  ['pain_now', false],
  ['pain_feel', 'burning'],
  ['pain_spreads', ['none']],
  ['associated', ['none']],
  ['coughing_blood', false],
  ['injury', false],
  ['started', 'within_12h'],
];

async function json(res: Response): Promise<{ status: number; body: any }> {
  return { status: res.status, body: await res.json() };
}

t.test('SIGKILL mid-load loses no acknowledged decision and leaves a verifiable chain', async (t) => {
  const db = path.join(tempDir(t), 'triage.db');
  const acknowledged: { traceId: string; assessmentId: string; step: number }[] = [];
  const tokens = new Map<string, string>();

  for (let round = 1; round <= 3; round++) {
    const { child, base } = await startServer(t, { DATABASE_URL: db });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    let killed = false;
    const worker = async () => {
      while (!killed) {
        try {
          const start = await json(await fetch(`${base}/v1/assessments`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ pathwayId: 'chest-pain', patient: { ageYears: 50, sex: 'female' } }),
          }));
          if (start.status !== 201) continue;
          acknowledged.push({ traceId: start.body.traceId, assessmentId: start.body.id, step: 0 });
          tokens.set(start.body.id, start.body.token);
          for (const [step, [questionId, value]] of chestPainSteps.entries()) {
            const res = await json(await fetch(`${base}/v1/assessments/${start.body.id}/answers`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-assessment-token': start.body.token },
              body: JSON.stringify({ questionId, value }),
            }));
            if (res.status !== 200) break;
            acknowledged.push({ traceId: res.body.traceId, assessmentId: start.body.id, step: step + 1 });
          }
        } catch {
          // the server died under us: expected
        }
      }
    };
    const before = acknowledged.length;
    const workers = Array.from({ length: 8 }, worker);
    // Kill once a good number of decisions are in flight and acknowledged.
    while (acknowledged.length < before + 150) {
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    killed = true;
    await exited;
    await Promise.all(workers);
    t.ok(acknowledged.length > before, `round ${round}: ${acknowledged.length - before} decisions acknowledged before the kill`);
  }

  const { base } = await startServer(t, { DATABASE_URL: db });
  const missing: string[] = [];
  for (const ack of acknowledged) {
    const res = await fetch(`${base}/v1/traces/${ack.traceId}`, { headers: STAFF.auditor });
    if (res.status !== 200) {
      missing.push(ack.traceId);
      continue;
    }
    const trace = (await res.json()) as { assessmentId: string; step: number };
    if (trace.assessmentId !== ack.assessmentId || trace.step !== ack.step) {
      missing.push(`${ack.traceId} (wrong assessment or step)`);
    }
  }
  t.same(missing, [], `all ${acknowledged.length} acknowledged decisions have their trace`);
  // Each acknowledged step is reflected in the assessment's stored state.
  const latest = new Map<string, number>();
  for (const ack of acknowledged) latest.set(ack.assessmentId, Math.max(latest.get(ack.assessmentId) ?? 0, ack.step));
  let behind = 0;
  for (const [id, step] of latest) {
    const state = (await (await fetch(`${base}/v1/assessments/${id}`, { headers: { 'x-assessment-token': tokens.get(id)! } })).json()) as { answers: unknown[] };
    if (state.answers.length < step) behind += 1;
  }
  t.equal(behind, 0, 'no assessment lost an acknowledged answer');
  const { verdict } = await followVerification(async (url) => {
    const res = await fetch(`${base}${url}`, { headers: STAFF.auditor });
    return { status: res.status, body: await res.json(), headers: Object.fromEntries(res.headers) };
  });
  t.match(verdict, { ok: true });
  t.ok((verdict as { verified: number }).verified >= acknowledged.length, 'the chain holds at least every acknowledged trace');
});
