import { isDeepStrictEqual } from 'node:util';
import { DomainError } from '../errors.js';
import { scenarioAnswers, type Scenario } from '../rulesets/scenarios.js';
import type { PathwayVersion } from '../rulesets/version.js';
import { applyAnswer, type Answer } from './answers.js';
import type { Decision } from './decide.js';
import type { Triage } from './triage.js';

export interface ScenarioResult {
  name: string;
  passed: boolean;
  /** What differed, in words; empty when passed. */
  differences: string[];
  decision: Decision | undefined;
  /** Ids of every question asked, in order. */
  asked: string[];
}

/**
 * Walks a scenario one answer at a time exactly as the API does (the same applyAnswer and
 * decide): each answer must be for the question the pathway asks at that step.
 */
export async function runScenario(triage: Triage, version: PathwayVersion, scenario: Scenario): Promise<ScenarioResult> {
  const differences: string[] = [];
  const asked: string[] = [];
  let answers: Answer[] = [];
  let decision: Decision | undefined;
  try {
    triage.checkApplies(version, scenario.patient);
    decision = await triage.decide(version, scenario.patient, answers);
    for (const [step, { questionId, value }] of scenarioAnswers(scenario).entries()) {
      if (decision.status === 'complete') {
        differences.push(`answer ${step + 1} (${questionId}) was never asked: the outcome was already ${describe(decision)}`);
        break;
      }
      asked.push(decision.question.id);
      if (decision.question.id !== questionId) {
        differences.push(`answer ${step + 1}: expected to be asked ${questionId}, but was asked ${decision.question.id}`);
        break;
      }
      answers = applyAnswer(version, decision.answers, decision.question.id, questionId, value);
      decision = await triage.decide(version, scenario.patient, answers);
    }
  } catch (err) {
    if (!(err instanceof DomainError)) {
      throw err;
    }
    differences.push(err.message);
  }
  if (differences.length === 0 && decision) {
    if (decision.status !== 'complete') {
      differences.push(`no outcome after the last answer: the next question is ${decision.question.id}`);
    } else {
      const got = { kind: decision.outcome.kind, disposition: decision.outcome.disposition, ruleId: decision.outcome.ruleId };
      if (!isDeepStrictEqual(got, scenario.expect)) {
        differences.push(`expected ${JSON.stringify(scenario.expect)}, got ${JSON.stringify(got)}`);
      }
    }
  }
  return { name: scenario.name, passed: differences.length === 0, differences, decision, asked };
}

function describe(decision: Decision): string {
  return decision.status === 'complete' ? `${decision.outcome.kind} ${decision.outcome.disposition} (${decision.outcome.ruleId ?? 'fallback'})` : 'pending';
}
