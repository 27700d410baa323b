import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { PatientSchema, patientProblem } from '../triage/patient.js';
import { OUTCOME_KINDS } from './schema.js';
import { parseSourceFile, RuleSetLoadError, schemaFindings, SCENARIO_SUFFIX, type Finding } from './loader.js';

/**
 * Scenario files sit beside each pathway (chest-pain.scenarios.yaml): a patient, the answers in
 * the order the pathway asks for them, and the outcome a clinician expects.
 */
export const ScenarioSchema = z.strictObject({
  name: z.string().min(1),
  // The API refuses an impossible age with 422; a scenario with one could never be played through it.
  patient: PatientSchema.superRefine((patient, ctx) => {
    const problem = patientProblem(patient);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['ageYears'] });
  }),
  answers: z.array(z.record(z.string(), z.unknown()).refine((a) => Object.keys(a).length === 1, 'each answer is one "questionId: value" pair')),
  expect: z.strictObject({
    kind: z.enum(OUTCOME_KINDS),
    disposition: z.string(),
    ruleId: z.string().nullable(),
  }),
});
export type Scenario = z.infer<typeof ScenarioSchema>;

export const ScenarioFileSchema = z.strictObject({
  pathway: z.string(),
  scenarios: z.array(ScenarioSchema).min(1),
});

export interface ScenarioFile {
  file: string;
  pathway: string;
  scenarios: Scenario[];
}

export function scenarioAnswers(scenario: Scenario): { questionId: string; value: unknown }[] {
  return scenario.answers.map((a) => {
    const [questionId, value] = Object.entries(a)[0] as [string, unknown];
    return { questionId, value };
  });
}

export async function loadScenarioFiles(dir: string): Promise<ScenarioFile[]> {
  const names = (await readdir(dir)).filter((n) => SCENARIO_SUFFIX.test(n)).sort();
  const files: ScenarioFile[] = [];
  const findings: Finding[] = [];
  for (const name of names) {
    const full = path.join(dir, name);
    const { source, findings: syntax } = await parseSourceFile(full, path.relative(process.cwd(), full) || full);
    findings.push(...syntax);
    if (syntax.length) {
      continue;
    }
    const parsed = ScenarioFileSchema.safeParse(source.doc.toJS());
    if (!parsed.success) {
      findings.push(...schemaFindings(source, parsed.error));
      continue;
    }
    files.push({ file: source.file, pathway: parsed.data.pathway, scenarios: parsed.data.scenarios });
  }
  if (findings.length) {
    throw new RuleSetLoadError(findings);
  }
  return files;
}
