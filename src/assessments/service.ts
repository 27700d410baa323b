import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { QueuedCallback } from '../callbacks/request.js';
import type { Followed } from '../callbacks/service.js';
import type { Decider, DecidedStep } from '../triage/step.js';
import { assessmentState, type StepDecision } from '../triage/decision.js';
import { AssessmentChanged, AssessmentNotFound, AssessmentTokenRequired } from '../errors.js';
import type { PathwayVersion } from '../rulesets/version.js';
import { assessmentRepository, type Assessment } from '../store/assessments.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { versionRepository, versionResolver } from '../store/versions.js';
import type { TraceDraft } from '../traces/trace.js';
import { applyAnswer, givenAnswers, type Patient } from '../triage/answers.js';
import type { Triage } from '../triage/triage.js';
import { topicId, type Resolution } from '../rulesets/topics.js';
import { ageBandOf, type AgeBand } from '../rulesets/schema.js';

export interface StepResult {
  assessment: Assessment;
  decision: StepDecision;
  traceId: string;
  /** The assessment's callback request as this step left it, if the patient asked for one. */
  callback?: QueuedCallback;
}

/** Started on another pathway than the one asked for (the catch-all, or the topic's variant for this person), and why. */
export type Redirected = NonNullable<Resolution['redirected']>;

/** What keeps an assessment's callback request in step with its answers (the callback service). */
export interface CallbackFollower {
  /** Runs inside the unit of work that stores the step. */
  follow(trx: Transaction<Database>, assessment: Assessment): Promise<Followed | undefined>;
  /** Runs once the step has committed. */
  announceFollowed(followed: Followed): Promise<void>;
}

const hashToken = (token: string): Buffer => createHash('sha256').update(token).digest();

/**
 * Assessments: the stateful walk through a pathway. Each step is decided (on the event loop or
 * in a decision worker), then the assessment's new state and the step's trace are committed in
 * one transaction before the caller is answered. Triage names the versions and checks patients.
 */
export function assessmentService(store: Store, triage: Triage, decider: Decider, callbacks: CallbackFollower): AssessmentService {
  const { read } = store;
  const assessments = assessmentRepository();
  const versions = versionRepository();

  /** The version an assessment started on, even after the rule files have changed. */
  const versionFor = versionResolver(triage, read);

  // Versions are content-addressed and never deleted: once a commit has stored one, later
  // decisions on it need not send its content again.
  const storedVersions = new Set<string>();
  /** A step's trace, with the state change it explains if there is one, in one unit of work. */
  async function storeDecision(version: PathwayVersion, draft: TraceDraft, change?: (trx: Transaction<Database>) => Promise<void>): Promise<void> {
    if (!change && storedVersions.has(version.hash)) {
      await store.append(draft);
      return;
    }
    const known = storedVersions.has(version.hash);
    await store.write(async (trx, chain) => {
      if (!known) await versions.remember(trx, version, draft.at);
      await change?.(trx);
      chain.append(draft);
    });
    storedVersions.add(version.hash);
  }

  function stateOf(base: Omit<Assessment, 'answers' | 'status' | 'questionId' | 'outcome' | 'fallbackCause'>, { decision, failSafe }: DecidedStep): Assessment {
    const state = assessmentState(decision);
    // Kept for the reports: the fallback's cause is otherwise only in the step's trace.
    const fallbackCause = state.outcome?.ruleId === null ? (failSafe?.cause ?? 'no_rule_decided') : null;
    return { ...base, ...state, fallbackCause };
  }

  return {
    versionFor,

    /**
     * The patient's way in: an assessment opens only with the token handed out when it was
     * created. A wrong token looks exactly like an unknown id, so ids cannot be probed.
     */
    async authorised(id: string, token: string | undefined): Promise<Assessment> {
      if (!token) {
        throw new AssessmentTokenRequired();
      }
      const assessment = await assessments.get(read, id);
      const stored = assessment?.tokenHash ? Buffer.from(assessment.tokenHash, 'hex') : undefined;
      if (!assessment || !stored || !timingSafeEqual(stored, hashToken(token))) {
        throw new AssessmentNotFound(id);
      }
      return assessment;
    },

    /** Starts the pathway that serves this patient for a topic or pathway id (see Triage.resolve). */
    async start(topicOrPathwayId: string, patient: Patient): Promise<StepResult & { token: string; redirected?: Redirected }> {
      const { version, redirected } = triage.resolve(topicOrPathwayId, patient);
      const pathwayId = version.id;
      const id = randomUUID();
      const decided = await decider.step(version, { patient, answers: [], assessmentId: id, step: 0 });
      const { decision, draft } = decided;
      const now = new Date().toISOString();
      const token = randomBytes(32).toString('base64url');
      const assessment = stateOf({ id, pathwayId, topicId: topicId(version), versionHash: version.hash, patient, step: 0, createdAt: now, updatedAt: now, tokenHash: hashToken(token).toString('hex') }, decided);
      await storeDecision(version, draft, (trx) => assessments.insert(trx, assessment));
      return { assessment, decision, traceId: draft.id, token, ...(redirected ? { redirected } : {}) };
    },

    async answer(id: string, token: string | undefined, questionId: string, value: unknown): Promise<StepResult> {
      const current = await this.authorised(id, token);
      const version = await versionFor(current.versionHash);
      const answers = applyAnswer(version, current.answers, current.questionId, questionId, value);
      const step = current.step + 1;
      const decided = await decider.step(version, { patient: current.patient, answers, assessmentId: id, step });
      const { decision, draft } = decided;
      const assessment = stateOf({ ...current, step, updatedAt: new Date().toISOString() }, decided);
      // The new state, its trace and the callback request asked on the old answers: one unit.
      const saved = await store.write(async (trx, chain) => {
        if (!(await assessments.update(trx, assessment, current.step))) {
          return false;
        }
        chain.append(draft);
        return { followed: await callbacks.follow(trx, assessment) };
      });
      if (!saved) {
        throw new AssessmentChanged(`assessment ${id} was answered by another request at the same time; fetch it and answer the current question`);
      }
      if (saved.followed) {
        await callbacks.announceFollowed(saved.followed);
      }
      return { assessment, decision, traceId: draft.id, callback: saved.followed?.callback };
    },

    /** For staff routes (already authenticated) and, after `authorised`, the patient's own. */
    async get(id: string): Promise<{ assessment: Assessment; version: PathwayVersion }> {
      const assessment = await assessments.get(read, id);
      if (!assessment) {
        throw new AssessmentNotFound(id);
      }
      return { assessment, version: await versionFor(assessment.versionHash) };
    },

    async people(ids: readonly string[]): Promise<Map<string, Person>> {
      const found = await assessments.people(read, ids);
      const people = new Map<string, Person>();
      for (const { id, versionHash, patient } of found) {
        people.set(id, personOf(await versionFor(versionHash), patient));
      }
      return people;
    },

    /** Stateless triage for frontends that keep the answers themselves; still traced. */
    async triageOnce(topicOrPathwayId: string, patient: Patient, given: Record<string, unknown>): Promise<{ decision: StepDecision; traceId: string; pathwayId: string; redirected?: Redirected }> {
      const { version, redirected } = triage.resolve(topicOrPathwayId, patient);
      const answers = givenAnswers(version, given);
      const { decision, draft } = await decider.step(version, { patient, answers, assessmentId: null, step: null });
      await storeDecision(version, draft);
      return { decision, traceId: draft.id, pathwayId: version.id, ...(redirected ? { redirected } : {}) };
    },
  };
}

/** Who an assessment is about, without their exact age: what a call handler sees in the queue. */
export interface Person {
  /** The title of the pathway the assessment runs. */
  topic: string;
  ageBand: AgeBand;
  sex: Patient['sex'];
}

export const personOf = (version: PathwayVersion, patient: Patient): Person => ({ topic: version.title, ageBand: ageBandOf(patient.ageYears), sex: patient.sex });

/** What the routes ask of assessments. */
export interface AssessmentService {
  versionFor: (hash: string) => Promise<PathwayVersion>;
  /**
   * The patient's way in: an assessment opens only with the token handed out when it was
   * created. A wrong token looks exactly like an unknown id, so ids cannot be probed.
   */
  authorised(id: string, token: string | undefined): Promise<Assessment>;
  start(topicOrPathwayId: string, patient: Patient): Promise<StepResult & { token: string; redirected?: Redirected }>;
  answer(id: string, token: string | undefined, questionId: string, value: unknown): Promise<StepResult>;
  /** For staff routes (already authenticated) and, after `authorised`, the patient's own. */
  get(id: string): Promise<{
    assessment: Assessment;
    version: PathwayVersion;
  }>;
  /** The topic, age band and sex of several assessments (a page of the callback queue), by id. */
  people(ids: readonly string[]): Promise<Map<string, Person>>;
  /** Stateless triage for frontends that keep the answers themselves; still traced. */
  triageOnce(topicOrPathwayId: string, patient: Patient, given: Record<string, unknown>): Promise<{ decision: StepDecision; traceId: string; pathwayId: string; redirected?: Redirected }>;
}
