import { NotAllowed } from '../errors.js';

/** Staff roles, as an identity provider or an API key grants them. */
export const ROLES = ['call-handler', 'clinician', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Which roles may use each group of staff routes: the single source of the access matrix (the
 * table in docs/security.md mirrors it; the test that walks it reads it).
 */
export const ACCESS = {
  /** The callback queue: list, read (with contact details), claim and the other handler actions. */
  callbacks: ['call-handler', 'clinician', 'admin'],
  /** Decision traces: read, explain, replay, verify the chain, export. */
  traces: ['clinician', 'auditor', 'admin'],
  /** Rule-set releases: the list, with sign-off and activation history. */
  releases: ['clinician', 'auditor', 'admin'],
  /** Recording a release (its author) and signing one off as clinical safety officer (never the author). */
  releaseSignOff: ['clinician'],
  /** Switching the live release (and rolling back, or back to the rule files). */
  releaseActivation: ['admin'],
  /** Service reports (counts only, no personal data): whoever answers for the service. */
  reports: ['clinician', 'auditor', 'admin'],
  /** GET /metrics for operators' dashboards (or the METRICS_TOKEN bearer token, for Prometheus). */
  metrics: ['admin'],
} as const satisfies Record<string, readonly Role[]>;
export type Access = keyof typeof ACCESS;

/**
 * Who may cancel a callback request another handler holds (or nobody has claimed), with an
 * explicit override that the request's history records as one. Everyone else needs the claim.
 */
export const CANCEL_OVERRIDE: readonly Role[] = ['clinician', 'admin'];

/** Who is calling: the handler id recorded in audit events comes from here, not the body. */
export interface Principal {
  /** `key:<role>:<hash prefix>` or `jwt:<issuer>|<subject>` (see principalId). */
  id: string;
  roles: Role[];
  via: 'api-key' | 'jwt';
  /** A display name (a JWT's `name` claim), for people to read; audit events record the id. */
  name?: string;
}

export const isRole = (value: unknown): value is Role => typeof value === 'string' && (ROLES as readonly string[]).includes(value);

/** The principal, if one of its roles is allowed in the access group; a 403 otherwise. */
export function authorise(principal: Principal, access: Access): Principal {
  const allowed: readonly Role[] = ACCESS[access];
  if (!principal.roles.some((role) => allowed.includes(role))) {
    throw new NotAllowed(`the ${principal.roles.join(', ')} role may not do this (it needs ${allowed.join(' or ')})`);
  }
  return principal;
}
