import { randomUUID } from 'node:crypto';
import { assessmentService } from '../src/assessments/service.js';
import { callbackService } from '../src/callbacks/service.js';
import { localDecider } from '../src/triage/step.js';
import { loadScenarioFiles, scenarioAnswers, type Scenario } from '../src/rulesets/scenarios.js';
import { ContactCipher, parseEncryptionKeys } from '../src/security/contact-crypto.js';
import type { Store } from '../src/store/store.js';
import { versionRepository } from '../src/store/versions.js';
import { draftTrace, packDraft } from '../src/traces/trace.js';
import type { Answer, Patient } from '../src/triage/answers.js';
import type { Triage } from '../src/triage/triage.js';
import { ENCRYPTION_KEYS, RULES } from './server.js';

export interface Case {
  patient: Patient;
  answers: Answer[];
}

export interface Cases {
  /** Every prefix of every scenario, by pathway: early steps, red flags and final decisions alike. */
  byPathway: Map<string, Case[]>;
  scenarios: Map<string, Scenario[]>;
}

export async function loadCases(): Promise<Cases> {
  const byPathway = new Map<string, Case[]>();
  const scenarios = new Map<string, Scenario[]>();
  for (const file of await loadScenarioFiles(RULES)) {
    scenarios.set(file.pathway, [...(scenarios.get(file.pathway) ?? []), ...file.scenarios]);
    const list = byPathway.get(file.pathway) ?? [];
    for (const scenario of file.scenarios) {
      const answers = scenarioAnswers(scenario) as Answer[];
      for (let n = 0; n <= answers.length; n++) list.push({ patient: scenario.patient, answers: answers.slice(0, n) });
    }
    byPathway.set(file.pathway, list);
  }
  return { byPathway, scenarios };
}

/** The longest scenario of a pathway: the fullest answer set for stateless triage. */
export function fullest(cases: Cases, pathwayId: string): Case {
  return [...cases.byPathway.get(pathwayId)!].sort((a, b) => b.answers.length - a.answers.length)[0]!;
}

/**
 * Fills the callback queue the way patients do: assessments walked to a callback outcome through
 * the real services, then a callback requested with (encrypted) contact details.
 */
export async function seedCallbacks(store: Store, triage: Triage, cases: Cases, count: number): Promise<void> {
  const callbacks = callbackService(store, { leaseSeconds: 600, cipher: new ContactCipher(parseEncryptionKeys(ENCRYPTION_KEYS)), dramaNumbers: true });
  const assessments = assessmentService(store, triage, localDecider(triage), callbacks);
  const [pathwayId, scenario] = [...cases.scenarios].flatMap(([id, list]) => list.filter((s) => s.expect.kind === 'callback').map((s) => [id, s] as const))[0]!;
  const answers = scenarioAnswers(scenario);
  const one = async (i: number) => {
    const started = await assessments.start(pathwayId, scenario.patient);
    for (const a of answers) await assessments.answer(started.assessment.id, started.token, a.questionId, a.value);
    await callbacks.request(started.assessment.id, { name: `Bench Patient ${i}`, phone: '07700 900123', consent: true });
  };
  // Many at a time, as many patients would: their writes share commits.
  for (let i = 0; i < count; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, count - i) }, (_, j) => one(i + j)));
  }
}

/**
 * `count` traces of one decision appended straight through the store, a thousand to a commit:
 * a chain of a realistic size in seconds, where deciding each would take minutes.
 */
export async function seedTraces(store: Store, decided: Parameters<typeof draftTrace>[0], count: number): Promise<void> {
  await store.write((trx) => versionRepository().remember(trx, decided.version, new Date().toISOString()));
  const template = draftTrace(decided);
  for (let i = 0; i < count; i += 1000) {
    await store.write(async (_trx, chain) => {
      for (let j = i; j < Math.min(count, i + 1000); j++) {
        const id = randomUUID();
        chain.append({ ...template, id, packed: template.packed && packDraft(id, template.members, decided.version) });
      }
    });
  }
}
