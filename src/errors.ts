/**
 * What the domain refuses, in its own words: typed errors with no HTTP status and no request
 * path. The HTTP layer maps each to a problem+json answer once (src/http/errors.ts); the
 * command-line tools print the message.
 */

/** A part of the input that was wrong: its path within the input (a request body, say) and why. */
export interface FieldError {
  path: (string | number)[];
  message: string;
}

/** Which kind of refusal: src/http/errors.ts maps every one to its problem+json answer. */
export type DomainErrorCode =
  | 'not_found'
  | 'pathway_does_not_apply'
  | 'invalid_patient'
  | 'unknown_question'
  | 'question_not_asked'
  | 'invalid_answer'
  | 'assessment_token_required'
  | 'assessment_changed'
  | 'invalid_contact'
  | 'no_callback_for_assessment'
  | 'callback_conflict'
  | 'not_allowed'
  | 'not_authenticated'
  | 'release_refused'
  | 'invalid_verify_range'
  | 'invalid_report_range'
  | 'verification_running'
  | 'trace_altered';

export abstract class DomainError extends Error {
  abstract readonly code: DomainErrorCode;

  constructor(
    message: string,
    /** The parts of the input at fault, when the error is about particular fields. */
    readonly fields: FieldError[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Something named by id does not exist (or, for an assessment, is not the caller's to see). */
export abstract class NotFound extends DomainError {
  readonly code = 'not_found' as const;

  constructor(
    readonly what: string,
    readonly id: string,
  ) {
    super(`${what} ${id} does not exist`);
  }
}

export class PathwayNotFound extends NotFound {
  constructor(id: string) {
    super('pathway', id);
  }
}

export class AssessmentNotFound extends NotFound {
  constructor(id: string) {
    super('assessment', id);
  }
}

export class CallbackNotFound extends NotFound {
  constructor(id: string) {
    super('callback request', id);
  }
}

export class ReleaseNotFound extends NotFound {
  constructor(id: string) {
    super('release', id);
  }
}

/** The patient is outside the pathway's ages or sexes; the message points to where else to go. */
export class PathwayDoesNotApply extends DomainError {
  readonly code = 'pathway_does_not_apply' as const;

  constructor(message: string) {
    super(message, [{ path: ['patient'], message }]);
  }
}

/** A patient no one could be (an age out of range, say). */
export class InvalidPatient extends DomainError {
  readonly code = 'invalid_patient' as const;

  constructor(message: string) {
    super(message, [{ path: ['patient', 'ageYears'], message }]);
  }
}

/** An answer names a question the pathway does not have. */
export class UnknownQuestion extends DomainError {
  readonly code = 'unknown_question' as const;

  constructor(questionId: string, pathwayId: string) {
    super(`question ${questionId} is not part of pathway ${pathwayId}`, [{ path: ['questionId'], message: 'unknown question' }]);
  }
}

/** An answer to a question that is neither the current one nor an earlier one. */
export class QuestionNotAsked extends DomainError {
  readonly code = 'question_not_asked' as const;

  constructor(questionId: string, currentQuestionId: string | null) {
    const now = currentQuestionId ? `the current question is ${currentQuestionId}` : 'the assessment is complete';
    super(`question ${questionId} has not been asked; ${now}`, [{ path: ['questionId'], message: 'not asked' }]);
  }
}

/** A value that is not an answer to its question: one answer, or several given at once. */
export class InvalidAnswer extends DomainError {
  readonly code = 'invalid_answer' as const;

  constructor(
    message: string,
    fields: FieldError[],
    /** Several answers given at once (stateless triage), each checked. */
    readonly several = false,
  ) {
    super(message, fields);
  }
}

/** The assessment's own token was not sent. */
export class AssessmentTokenRequired extends DomainError {
  readonly code = 'assessment_token_required' as const;

  constructor() {
    super('send the token returned when the assessment was created in the x-assessment-token header', [{ path: ['x-assessment-token'], message: 'required' }]);
  }
}

/** Another request changed the assessment first. */
export class AssessmentChanged extends DomainError {
  readonly code = 'assessment_changed' as const;
}

/** A callback request's name, phone or consent is not acceptable. */
export class InvalidContact extends DomainError {
  readonly code = 'invalid_contact' as const;

  constructor(fields: FieldError[]) {
    super(fields.map((f) => f.message).join('; '), fields);
  }
}

/** The assessment did not end in a callback outcome. */
export class NoCallbackForAssessment extends DomainError {
  readonly code = 'no_callback_for_assessment' as const;
}

/** Why a handler's action on a request is refused: someone else holds it, it is closed, or it is not claimed. */
export type CallbackConflictReason = 'claimed_by_other' | 'closed' | 'not_claimed';

export class CallbackConflict extends DomainError {
  readonly code = 'callback_conflict' as const;

  constructor(
    readonly reason: CallbackConflictReason,
    message: string,
  ) {
    super(message);
  }
}

/** A principal whose roles do not allow what they asked to do. */
export class NotAllowed extends DomainError {
  readonly code = 'not_allowed' as const;

  constructor(
    message: string,
    /** What was refused, in a word, when it is more than the role's access to a route. */
    readonly refused: 'access' | 'cancel_override' | 'author_sign_off' = 'access',
  ) {
    super(message);
  }
}

/** No credential, or one this service does not accept. */
export class NotAuthenticated extends DomainError {
  readonly code = 'not_authenticated' as const;
}

/** Why a release cannot be recorded, signed off, activated or deactivated. */
export type ReleaseRefusal = 'invalid' | 'version_not_bumped' | 'already_signed_off' | 'not_signed_off' | 'none_active' | 'sign_off_required';

export class ReleaseRefused extends DomainError {
  readonly code = 'release_refused' as const;

  constructor(
    readonly reason: ReleaseRefusal,
    message: string,
  ) {
    super(message);
  }
}

/** A chain verification range that makes no sense. */
export class InvalidVerifyRange extends DomainError {
  readonly code = 'invalid_verify_range' as const;
}

/** A report's dates that make no sense, or span more than a report covers. */
export class InvalidReportRange extends DomainError {
  readonly code = 'invalid_report_range' as const;
}

/** Another verification is still running on this instance. */
export class VerificationRunning extends DomainError {
  readonly code = 'verification_running' as const;
}

/**
 * A stored trace that no longer agrees with itself. Reads refuse it rather than serve values
 * an auditor could not trust: the service's own fault, logged, naming the trace.
 */
export class TraceAltered extends DomainError {
  readonly code = 'trace_altered' as const;

  constructor(
    readonly seq: number,
    readonly traceId: string,
    readonly reason: string,
  ) {
    super(`trace ${seq} (id ${traceId}) ${reason}; it is not served. Run \`npm run traces -- verify\` and treat this as an incident.`);
  }

  /** The finding alone, as verify reports it. */
  get finding(): string {
    return `trace ${this.seq} (id ${this.traceId}) ${this.reason}`;
  }
}

/** Every concrete domain error, by its code: what src/http/errors.ts maps. */
export type AnyDomainError =
  | NotFound
  | PathwayDoesNotApply
  | InvalidPatient
  | UnknownQuestion
  | QuestionNotAsked
  | InvalidAnswer
  | AssessmentTokenRequired
  | AssessmentChanged
  | InvalidContact
  | NoCallbackForAssessment
  | CallbackConflict
  | NotAllowed
  | NotAuthenticated
  | ReleaseRefused
  | InvalidVerifyRange
  | InvalidReportRange
  | VerificationRunning
  | TraceAltered;
