import { z } from 'zod';
import { SEXES } from '../rulesets/schema.js';

/** Who is being assessed, as the rules see them: age in whole years and sex. Nothing else about a patient is decided on. */
export const PatientSchema = z.strictObject({
  ageYears: z.number().int().min(0).max(130),
  sex: z.enum(SEXES),
});
export type Patient = z.infer<typeof PatientSchema>;

/** Older than anyone has lived: a typing slip, not a patient (the API schema allows up to 130). */
export const MAX_AGE_YEARS = 120;

/** What makes a patient's details impossible, rather than outside a pathway. */
export function patientProblem(patient: Patient): string | undefined {
  return patient.ageYears > MAX_AGE_YEARS ? `an age of ${patient.ageYears} is not possible: give the age in whole years, ${MAX_AGE_YEARS} at most` : undefined;
}
