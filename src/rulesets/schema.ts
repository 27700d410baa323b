import { z } from 'zod';
import { durationSeconds, durationWords } from './duration.js';

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

/** Facts every evaluation carries besides the answers; question ids may not reuse them. */
export const PATIENT_FACTS = ['ageYears', 'sex'] as const;

export const OPERATORS = [
  'equal',
  'notEqual',
  'in',
  'notIn',
  'contains',
  'doesNotContain',
  'lessThan',
  'lessThanInclusive',
  'greaterThan',
  'greaterThanInclusive',
] as const;
export type OperatorName = (typeof OPERATORS)[number];

const Id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'use lower-case letters, digits, "-" and "_" (for example cp-crushing-pain)');

const IsoDuration = z
  .string()
  .regex(/^P(?=\d|T\d)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?)?$/, 'use an ISO 8601 duration such as PT1H, PT6H or P1D');

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
export const ConditionSchema: z.ZodType<TopLevelCondition> = z.lazy(() =>
  z.union([
    z.strictObject({ all: z.array(NodeSchema).min(1) }),
    z.strictObject({ any: z.array(NodeSchema).min(1) }),
  ]),
);
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

export const QuestionSchema = z.discriminatedUnion('type', [
  z.strictObject({ ...QuestionBase, type: z.literal('yes_no') }),
  z.strictObject({ ...QuestionBase, type: z.literal('single_choice'), options: z.array(Option).min(2) }),
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
]);
export type Question = z.infer<typeof QuestionSchema>;

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
  questions: z.array(QuestionSchema),
  rules: z.array(RuleSchema).min(1),
  outcomes: z.record(Id, OutcomeSchema),
};

export const RedFlagsFileSchema = z.strictObject({
  kind: z.literal('global_red_flags'),
  ...Governance,
});
export type RedFlagsFile = z.infer<typeof RedFlagsFileSchema>;

export const PathwayFileSchema = z.strictObject({
  kind: z.literal('pathway'),
  ...Governance,
  description: Text,
  applies: z.strictObject({
    minAgeYears: z.number().int().min(0),
    maxAgeYears: z.number().int().max(130),
    sexes: z.array(z.enum(SEXES)).min(1).default([...SEXES]),
    /** Shown when a patient is outside the pathway: which pathway to use instead. */
    otherwise: Text,
  }),
  fallback: Id,
  /** `triage-rules coverage` fails when fewer of this pathway's rules decide a scenario. */
  minRuleCoverage: z.number().min(0).max(100).optional(),
});
export type PathwayFile = z.infer<typeof PathwayFileSchema>;

export const RuleFileSchema = z.discriminatedUnion('kind', [PathwayFileSchema, RedFlagsFileSchema]);
