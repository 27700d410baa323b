import { z } from 'zod';
import { durationSeconds, durationWords, ISO_DURATION } from './duration.js';

/**
 * The shape of the files clinicians write in rules/. One zod schema per idea; the loader
 * adds the cross-checks a schema cannot express (unknown questions, values outside options).
 */

export const OUTCOME_KINDS = ['self_care', 'callback', 'escalate'] as const;
export type OutcomeKind = (typeof OUTCOME_KINDS)[number];

/** Urgency order, least urgent first: used to compare outcomes (impact, lint, tests). */
export const URGENCY: Record<OutcomeKind, number> = { self_care: 0, callback: 1, escalate: 2 };

/** A range of rule priorities and the outcomes that belong in it. */
export interface PriorityBand {
  name: string;
  min: number;
  max: number;
  kind: OutcomeKind;
  /** The longest time frame (`within`, in seconds) of the outcomes in the band. */
  withinAtMost?: number;
}

/**
 * Priority means urgency: a rule decides only once every rule ranked above it is settled, so a
 * rule's priority must sit in its outcome's band, most urgent first (the bands the bundled
 * content uses; lint warns about a rule outside its band).
 */
export const PRIORITY_BANDS: readonly PriorityBand[] = [
  { name: '999', min: 900, max: 999, kind: 'escalate', withinAtMost: 0 },
  { name: 'A&E', min: 700, max: 899, kind: 'escalate' },
  { name: '1 hour', min: 600, max: 699, kind: 'callback', withinAtMost: 3600 },
  { name: '2 hours', min: 400, max: 599, kind: 'callback', withinAtMost: 7200 },
  { name: 'longer', min: 200, max: 399, kind: 'callback' },
  { name: 'self-care', min: 1, max: 199, kind: 'self_care' },
];

/** What an outcome would mean for the patient, in plain words ("you need to be seen within 1 hour"). */
export function outcomeNeed(outcome: { kind: OutcomeKind; within?: string }): string {
  if (outcome.kind === 'self_care') return 'you can look after yourself at home';
  const soon = outcome.within ? durationSeconds(outcome.within) : 0;
  if (outcome.kind === 'escalate') return soon === 0 ? 'you need to call 999 now' : `you need to go to A&E or urgent care within ${durationWords(outcome.within!)}`;
  return `you need to be seen within ${durationWords(outcome.within ?? 'PT0M')}`;
}

/** The band an outcome belongs in: its kind, then how soon. */
export function priorityBand(outcome: { kind: OutcomeKind; within?: string }): PriorityBand {
  const seconds = outcome.within ? durationSeconds(outcome.within) : Number.POSITIVE_INFINITY;
  return PRIORITY_BANDS.find((b) => b.kind === outcome.kind && seconds <= (b.withinAtMost ?? Number.POSITIVE_INFINITY))!;
}

export const SEXES = ['female', 'male'] as const;
export type Sex = (typeof SEXES)[number];

/** Who a pathway serves: adults 16 and over, children 5 to 15, under-5s (0 to 4). */
export const AGE_BANDS = ['adult', 'child', 'under5'] as const;
export type AgeBand = (typeof AGE_BANDS)[number];
/** Each band's ages in whole years, inclusive; an age such as 4.5 belongs to the band of 4. */
export const AGE_BAND_YEARS: Record<AgeBand, { min: number; max: number }> = {
  under5: { min: 0, max: 4 },
  child: { min: 5, max: 15 },
  adult: { min: 16, max: 130 },
};

/** The band a person of this age belongs to. */
export function ageBandOf(ageYears: number): AgeBand {
  return ageYears < 5 ? 'under5' : ageYears < 16 ? 'child' : 'adult';
}

/** The answer a patient gives to say "I'm not sure" to a question that offers it. */
export const UNSURE = 'unsure';

/** Facts every evaluation carries besides the answers; question ids may not reuse them. */
export const PATIENT_FACTS = ['ageYears', 'sex'] as const;

export const OPERATORS = ['equal', 'notEqual', 'in', 'notIn', 'contains', 'doesNotContain', 'lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive'] as const;
export type OperatorName = (typeof OPERATORS)[number];

const Id = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'use lower-case letters, digits, "-" and "_" (for example cp-crushing-pain)');

const IsoDuration = z.string().regex(ISO_DURATION, 'use an ISO 8601 duration such as PT1H, PT6H, P1D or P2W');

const Text = z.string().trim().min(1, 'must not be empty');

const Scalar = z.union([z.string(), z.number(), z.boolean()]);

export const LeafConditionSchema = z.strictObject({
  fact: z.string().min(1),
  operator: z.enum(OPERATORS),
  value: z.union([Scalar, z.array(Scalar)]),
});
export type LeafCondition = z.infer<typeof LeafConditionSchema>;

export type ConditionNode = LeafCondition | AllConditions | AnyConditions;
export interface AllConditions {
  all: ConditionNode[];
}
export interface AnyConditions {
  any: ConditionNode[];
}
export type TopLevelCondition = AllConditions | AnyConditions;

// `not` is deliberately absent: json-rules-engine would make `not` of a condition on an
// unanswered question true, so a rule could fire before its question was asked.
export const ConditionSchema: z.ZodType<TopLevelCondition> = z.lazy(() => z.union([z.strictObject({ all: z.array(NodeSchema).min(1) }), z.strictObject({ any: z.array(NodeSchema).min(1) })]));
const NodeSchema: z.ZodType<ConditionNode> = z.lazy(() => z.union([LeafConditionSchema, ConditionSchema]));

const Source = z.strictObject({ title: Text, url: z.url().optional() });

const QuestionBase = {
  id: Id,
  text: Text,
  help: Text.optional(),
  askWhen: ConditionSchema.optional(),
};

const Option = z.strictObject({
  value: Id,
  label: Text,
  /** A "none of these" option that cannot be combined with others. */
  exclusive: z.boolean().optional(),
});

/**
 * "I'm not sure", offered on yes/no and single-choice questions. Rules see `countsAs` in its
 * place: for yes/no the conservative reading of a question about a symptom (yes) unless stated.
 */
const UnsureLabel = Text.optional();
const YesNoUnsure = z.strictObject({ label: UnsureLabel, countsAs: z.boolean().default(true) });
const ChoiceUnsure = z.strictObject({ label: UnsureLabel, countsAs: Id });

export const QuestionSchema = z.discriminatedUnion('type', [
  z.strictObject({ ...QuestionBase, type: z.literal('yes_no'), unsure: YesNoUnsure.optional() }),
  z.strictObject({ ...QuestionBase, type: z.literal('single_choice'), options: z.array(Option).min(2), unsure: ChoiceUnsure.optional() }),
  z.strictObject({ ...QuestionBase, type: z.literal('multiple_choice'), options: z.array(Option).min(2) }),
  z
    .strictObject({
      ...QuestionBase,
      type: z.literal('number'),
      unit: Text,
      min: z.number(),
      max: z.number(),
      integer: z.boolean().optional(),
    })
    .refine((q) => q.min < q.max, { message: 'min must be below max', path: ['max'] }),
  /** How long something has gone on: answered as an ISO 8601 duration of hours, days or weeks (PT6H, P3D, P2W). */
  z.strictObject({ ...QuestionBase, type: z.literal('duration'), max: IsoDuration.optional() }),
]);
export type Question = z.infer<typeof QuestionSchema>;

/** In a pathway's questions: ask a module's questions here, in the module's order. */
export const IncludeSchema = z.strictObject({ include: Id });
export type Include = z.infer<typeof IncludeSchema>;
export const isInclude = (entry: Question | Include): entry is Include => 'include' in entry;

export const OutcomeSchema = z
  .strictObject({
    kind: z.enum(OUTCOME_KINDS),
    disposition: z.string().regex(/^[A-Z0-9][A-Z0-9_-]*$/, 'use an upper-case disposition code such as ED-999'),
    title: Text,
    advice: Text,
    safetyNetting: Text.optional(),
    within: IsoDuration.optional(),
  })
  .superRefine((outcome, ctx) => {
    if (outcome.kind === 'self_care' && !outcome.safetyNetting) {
      ctx.addIssue({ code: 'custom', path: ['safetyNetting'], message: 'a self_care outcome must say when to seek help (safetyNetting)' });
    }
    if (outcome.kind !== 'self_care' && !outcome.within) {
      ctx.addIssue({ code: 'custom', path: ['within'], message: `a ${outcome.kind} outcome needs a time frame (within), such as PT1H` });
    }
  });
export type Outcome = z.infer<typeof OutcomeSchema>;

export const RuleSchema = z.strictObject({
  id: Id,
  title: Text,
  rationale: Text,
  source: Text,
  /** Higher runs first and wins; global red flags always rank above pathway rules. */
  priority: z.number().int().min(1).max(999),
  redFlag: z.boolean().optional(),
  conditions: ConditionSchema,
  outcome: Id,
});
export type Rule = z.infer<typeof RuleSchema>;

const Governance = {
  id: Id,
  title: Text,
  version: z.string().regex(/^\d+\.\d+\.\d+$/, 'use a version such as 1.0.0'),
  owner: Text,
  approver: Text,
  reviewBy: z.iso.date('use a date such as 2027-06-30'),
  sources: z.array(Source).min(1, 'cite at least one source'),
  rules: z.array(RuleSchema).min(1),
  outcomes: z.record(Id, OutcomeSchema),
};

export const RedFlagsFileSchema = z.strictObject({
  kind: z.literal('global_red_flags'),
  ...Governance,
  questions: z.array(QuestionSchema),
});
export type RedFlagsFile = z.infer<typeof RedFlagsFileSchema>;

/** A screen written once (a sepsis screen, a stroke check) and included by the pathways it applies to. */
export const ModuleFileSchema = z.strictObject({
  kind: z.literal('module'),
  ...Governance,
  description: Text.optional(),
  questions: z.array(QuestionSchema).min(1),
});
export type ModuleFile = z.infer<typeof ModuleFileSchema>;

const SearchTerm = z
  .string()
  .trim()
  .min(2)
  .regex(/^[^A-Z]*$/, 'write search terms in lower case');

export const PathwayFileSchema = z.strictObject({
  kind: z.literal('pathway'),
  ...Governance,
  /** The topic a patient picks; variants of one topic (by age band or sex) share it. Defaults to the id. */
  topic: Id.optional(),
  description: Text,
  /** Words people type when looking for this topic: synonyms, slang, common misspellings. */
  searchTerms: z.array(SearchTerm).min(5, 'give at least 5 search terms, the words people really type'),
  /** The pathway for anyone no topic serves, and for symptoms no topic covers (exactly one). */
  catchAll: z.boolean().optional(),
  applies: z
    .strictObject({
      ageBands: z.array(z.enum(AGE_BANDS)).min(1, 'name the age bands served: adult, child, under5'),
      sexes: z
        .array(z.enum(SEXES))
        .min(1)
        .default([...SEXES]),
      otherwise: Text.optional(),
      // Only stored versions made before age bands carry these (LegacyApplies); a file refuses them.
      minAgeYears: z.never('minAgeYears is gone: use ageBands (adult, child, under5)').optional(),
      maxAgeYears: z.never('maxAgeYears is gone: use ageBands (adult, child, under5)').optional(),
    })
    .refine((a) => new Set(a.ageBands).size === a.ageBands.length, { message: 'an age band is named twice', path: ['ageBands'] }),
  questions: z.array(z.union([IncludeSchema, QuestionSchema])),
  fallback: Id,
  /** `triage-rules coverage` fails when fewer of this pathway's rules decide a scenario. */
  minRuleCoverage: z.number().min(0).max(100).optional(),
});
export type PathwayFile = z.infer<typeof PathwayFileSchema>;

/** How stored versions made before age bands say whom they serve. */
export interface LegacyApplies {
  minAgeYears: number;
  maxAgeYears: number;
  sexes: Sex[];
  otherwise: string;
}

/**
 * A pathway as stored in a version: a file as the schema reads it today, or as older schemas
 * read it (age limits, no topic or search terms). Stored versions are never re-parsed, so that
 * they replay exactly as they ran.
 */
export type StoredPathway = Omit<PathwayFile, 'applies' | 'searchTerms'> & {
  applies: PathwayFile['applies'] | LegacyApplies;
  searchTerms?: string[];
};

/** The ages a pathway serves, either way it was written. */
export function servesAge(applies: StoredPathway['applies'], ageYears: number): boolean {
  return 'ageBands' in applies && applies.ageBands ? applies.ageBands.includes(ageBandOf(ageYears)) : ageYears >= (applies as LegacyApplies).minAgeYears && ageYears <= (applies as LegacyApplies).maxAgeYears;
}

/** The age bands a pathway serves; for a stored version with age limits, each band it serves some of. */
export function ageBandsServed(applies: StoredPathway['applies']): AgeBand[] {
  if ('ageBands' in applies && applies.ageBands) return applies.ageBands;
  const { minAgeYears, maxAgeYears } = applies as LegacyApplies;
  return AGE_BANDS.filter((b) => AGE_BAND_YEARS[b].min <= maxAgeYears && AGE_BAND_YEARS[b].max >= minAgeYears);
}

/** The code, kind and time frame of each disposition content may use (rules/dispositions.yaml). */
export const DispositionSchema = z.strictObject({
  code: z.string().regex(/^[A-Z0-9][A-Z0-9_-]*$/, 'use an upper-case disposition code such as ED-999'),
  kind: z.enum(OUTCOME_KINDS),
  within: IsoDuration.optional(),
  service: Text,
  description: Text.optional(),
});
export type Disposition = z.infer<typeof DispositionSchema>;

export const DispositionsFileSchema = z.strictObject({
  kind: z.literal('dispositions'),
  dispositions: z.array(DispositionSchema).min(1),
});
export type DispositionsFile = z.infer<typeof DispositionsFileSchema>;

export const RuleFileSchema = z.discriminatedUnion('kind', [PathwayFileSchema, RedFlagsFileSchema, ModuleFileSchema, DispositionsFileSchema]);
