import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every setting the service reads, with its default; the README's table mirrors this. */
export const ConfigSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .min(1)
    .default('sqlite:./data/triage.db')
    .refine((url) => !/^postgres(ql)?:/.test(url), 'PostgreSQL is not supported by this version yet; use a sqlite: URL or a file path'),
  RULES_DIR: z.string().min(1).default('./rules'),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  /** Time budget for one evaluation; past it the answer is the pathway's conservative fallback. */
  TRIAGE_EVAL_TIMEOUT_MS: z.coerce.number().int().min(10).max(10_000).default(500),
  /** How long a call handler's claim on a callback holds before it returns to the queue. */
  CALLBACK_LEASE_SECONDS: z.coerce.number().int().min(10).max(86_400).default(600),
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
  return parsed.data;
}
