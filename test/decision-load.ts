import type { Test } from 'tap';
import { CALLBACK_ANSWERS, followVerification, STAFF } from './helpers.js';

/**
 * Patients walking the chest-pain pathway against a real server, as fast as it answers: what
 * the crash and fault tests put a server under, and what they check it kept.
 */

export interface Answered {
  status: number;
  contentType: string;
  retryAfter: string | null;
  body: any;
}

export class DecisionLoad {
  /** Every decision answered with a 2xx: its trace must exist afterwards. */
  readonly acknowledged: { traceId: string; assessmentId: string; step: number }[] = [];
  readonly tokens = new Map<string, string>();
  /** Every answer that was not a 2xx, in order. */
  readonly refused: Answered[] = [];
  private running = false;
  private workers: Promise<void>[] = [];
  private base = '';

  /** Starts the patients on a server (again on a restarted one: what was acknowledged carries over). */
  start(base: string, workers = 8): void {
    this.base = base;
    this.running = true;
    this.workers = Array.from({ length: workers }, () => this.worker());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  private async call(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answered> {
    const res = await fetch(`${this.base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const answered = { status: res.status, contentType: res.headers.get('content-type') ?? '', retryAfter: res.headers.get('retry-after'), body: await res.json() };
    if (res.status >= 300) this.refused.push(answered);
    return answered;
  }

  private async worker(): Promise<void> {
    while (this.running) {
      try {
        const start = await this.call('/v1/assessments', { pathwayId: 'chest-pain', patient: { ageYears: 50, sex: 'female' } });
        if (start.status !== 201) continue;
        this.acknowledged.push({ traceId: start.body.traceId, assessmentId: start.body.id, step: 0 });
        this.tokens.set(start.body.id, start.body.token);
        // Each answer is for the question the service asks, as a patient's page sends it.
        let asked = start.body;
        for (let step = 1; this.running && asked.status === 'in_progress'; step++) {
          const questionId = asked.question.id as string;
          const res = await this.call(`/v1/assessments/${start.body.id}/answers`, { questionId, value: CALLBACK_ANSWERS[questionId] }, { 'x-assessment-token': start.body.token });
          if (res.status !== 200) break;
          this.acknowledged.push({ traceId: res.body.traceId, assessmentId: start.body.id, step });
          asked = res.body;
        }
      } catch {
        // the server died or closed under us: the test decides whether that was expected
      }
    }
  }

  /**
   * Every acknowledged decision has its trace, every assessment holds its acknowledged answers,
   * and the chain verifies: nothing acknowledged was lost, nothing half-written was left.
   */
  async checkKept(t: Test, base: string): Promise<void> {
    const missing: string[] = [];
    for (const ack of this.acknowledged) {
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
    t.same(missing, [], `all ${this.acknowledged.length} acknowledged decisions have their trace`);
    const latest = new Map<string, number>();
    for (const ack of this.acknowledged) latest.set(ack.assessmentId, Math.max(latest.get(ack.assessmentId) ?? 0, ack.step));
    let behind = 0;
    for (const [id, step] of latest) {
      const state = (await (await fetch(`${base}/v1/assessments/${id}`, { headers: { 'x-assessment-token': this.tokens.get(id)! } })).json()) as { answers: unknown[] };
      if (state.answers.length < step) behind += 1;
    }
    t.equal(behind, 0, 'no assessment lost an acknowledged answer');
    const { verdict } = await followVerification(async (url) => {
      const res = await fetch(`${base}${url}`, { headers: STAFF.auditor });
      return { status: res.status, body: await res.json(), headers: Object.fromEntries(res.headers) };
    });
    t.match(verdict, { ok: true });
    t.ok((verdict as { verified: number }).verified >= this.acknowledged.length, 'the chain holds at least every acknowledged trace');
  }
}
