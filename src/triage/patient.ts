import { z } from 'zod';
import { SEXES } from '../rulesets/schema.js';

/** Who is being assessed, as the rules see them: age in whole years and sex. Nothing else about a patient is decided on. */
export const PatientSchema = z.strictObject({
  ageYears: z.number().int().min(0).max(130),
  sex: z.enum(SEXES),
});
export type Patient = z.infer<typeof PatientSchema>;
