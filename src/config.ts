import { z } from 'zod';
import { DEFAULT_DECISION_WORKERS } from './triage/decision-pool.js';
import { RULE_EVALUATION_MODES } from './triage/engines.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every setting the service reads, with its default; docs/operations.md's table mirrors this. */
export const ConfigSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** A SQLite file (sqlite:path, file:path or a path) or a postgres:// URL. */
  DATABASE_URL: z.string().min(1).default('sqlite:./data/triage.db'),
  RULES_DIR: z.string().min(1).default('./rules'),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  /** Time budget for one evaluation; past it the answer is the pathway's conservative fallback. */
  TRIAGE_EVAL_TIMEOUT_MS: z.coerce.number().int().min(10).max(10_000).default(500),
  TRIAGE_RULE_EVALUATION: z.enum(RULE_EVALUATION_MODES).default('needed'),
  /** Worker threads that decide steps off the event loop; 0 decides on it. */
  TRIAGE_WORKERS: z.coerce.number().int().min(0).max(64).default(DEFAULT_DECISION_WORKERS),
  /**
   * How compact traces are stored: `packed` (src/traces/packing.ts), or `text` while instances of
   * a release from before packed traces, which cannot read them, still run beside this one (a
   * rolling upgrade). Either way every stored trace stays readable here.
   */
  TRACE_STORAGE: z.enum(['packed', 'text']).default('packed'),
  /** How long a call handler's claim on a callback holds before it returns to the queue. */
  CALLBACK_LEASE_SECONDS: z.coerce.number().int().min(10).max(86_400).default(600),
  /** Reports count an assessment with no outcome as abandoned once it has had no answer for this long. */
  ASSESSMENT_ABANDONED_AFTER_MINUTES: z.coerce.number().int().min(1).max(10_080).default(60),
  /** A bearer token Prometheus may scrape GET /metrics with, beside an admin's credential (at least 32 characters). */
  METRICS_TOKEN: z.string().min(32).optional(),
  /** Staff API keys, `role:key` pairs separated by commas; or a file of them, one per line. */
  TRIAGE_API_KEYS: z.string().optional(),
  TRIAGE_API_KEYS_FILE: z.string().optional(),
  /** Bearer JWTs from an identity provider: its JWKS (https: or file:), issuer and audience. */
  AUTH_JWKS_URL: z.url().optional(),
  AUTH_JWT_ISSUER: z.string().optional(),
  AUTH_JWT_AUDIENCE: z.string().optional(),
  AUTH_JWT_ROLES_CLAIM: z.string().default('roles'),
  /** AES-256-GCM keys for contact details, `id:base64` (32 bytes), the sealing key first. */
  CONTACT_ENCRYPTION_KEYS: z.string().optional(),
  /** Development only: where generated keys are kept so restarts can still read stored data. */
  DEV_KEYS_FILE: z.string().default('./data/dev-keys.json'),
  /** Frontend origins allowed to call the API from a browser (comma separated); none by default. */
  CORS_ORIGINS: z.string().default(''),
  /** Requests per minute per client on the public (patient) routes. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(120),
  /** Requests per minute per staff principal (API key, or JWT issuer and subject) on the staff routes. */
  STAFF_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
  /** How long a client has to send a whole request, headers and body; then a 408 and the connection closes. */
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /**
   * Set when browsers reach the service over HTTPS (directly or through a TLS-terminating proxy):
   * the CSP then tells them to upgrade any http: subresource. Off by default, because over plain
   * HTTP that directive makes browsers fetch the pages' own CSS and scripts over HTTPS, and fail.
   */
  BEHIND_TLS: z.enum(['true', 'false']).default('false'),
  /** Set when behind a load balancer, so rate limits see the client's address. */
  TRUST_PROXY: z.enum(['true', 'false']).default('false'),
  /** Refuse to activate a release without clinical safety officer sign-off (default: in production). */
  RELEASE_REQUIRE_SIGNOFF: z.enum(['true', 'false']).optional(),
  /** A file holding the id of the release to activate on SIGHUP. */
  RELEASE_ID_FILE: z.string().optional(),
  /** Benchmarks only: registers POST /bench/echo, the baseline every HTTP figure is a ratio to. */
  BENCH_ECHO: z.enum(['true', 'false']).default('false'),
  /** How long in-flight requests get to finish after SIGTERM before the process exits anyway. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(120_000).default(10_000),
});
export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {}

/** Reads configuration from the environment; a bad value is one line naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const picked = Object.fromEntries(Object.keys(ConfigSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = ConfigSchema.safeParse(picked);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    throw new ConfigError(`invalid configuration: ${name}=${JSON.stringify(env[name])}: ${issue.message}`);
  }
  const config = parsed.data;
  const jwtParts = [config.AUTH_JWKS_URL, config.AUTH_JWT_ISSUER, config.AUTH_JWT_AUDIENCE].filter(Boolean).length;
  if (jwtParts !== 0 && jwtParts !== 3) {
    throw new ConfigError('invalid configuration: AUTH_JWKS_URL, AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE go together: set all three or none');
  }
  if (config.NODE_ENV === 'production') {
    if (!config.TRIAGE_API_KEYS && !config.TRIAGE_API_KEYS_FILE && !config.AUTH_JWKS_URL) {
      throw new ConfigError('invalid configuration: production needs staff credentials: TRIAGE_API_KEYS, TRIAGE_API_KEYS_FILE or AUTH_JWKS_URL');
    }
    if (!config.CONTACT_ENCRYPTION_KEYS) {
      throw new ConfigError('invalid configuration: production needs CONTACT_ENCRYPTION_KEYS to encrypt contact details');
    }
  }
  return config;
}
