import type { BaseLogger } from 'pino';
import { assessmentService, type AssessmentService } from './assessments/service.js';
import { callbackService, type CallbackService } from './callbacks/service.js';
import type { Config } from './config.js';
import { serviceMetrics, type ServiceMetrics } from './metrics.js';
import { reportService, type ReportService } from './reports/reports.js';
import { releaseService, requiresSignOff, type ReleaseService } from './releases/service.js';
import { loadRuleCatalog } from './rulesets/loader.js';
import type { PathwayVersion } from './rulesets/version.js';
import { setUpSecurity, type Security } from './security/setup.js';
import { describeStoreError } from './store/faults.js';
import { openStore, type Store } from './store/store.js';
import { traceRepository, type TraceRepository } from './store/traces.js';
import { versionLookup, versionResolver } from './store/versions.js';
import { verificationService, type VerificationService } from './traces/verification.js';
import { DecisionPool } from './triage/decision-pool.js';
import { localDecider, type Decider } from './triage/step.js';
import { Triage } from './triage/triage.js';

/** Where the services say what happened: pino's levels, so the server hands them its logger. */
export type ServiceLog = Pick<BaseLogger, 'info' | 'warn' | 'error'>;

/** A log that drops everything: the command-line tools print their own results. */
export const SILENT_LOG: ServiceLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The store and what reads or records on it without serving patients: what the command-line
 * tools need (traces, replay, releases). No rule files are loaded, nothing is followed.
 */
export interface StoreServices {
  config: Config;
  store: Store;
  /** Versions by hash: the tools' is empty until a stored version is read back. */
  triage: Triage;
  traces: TraceRepository;
  releases: ReleaseService;
  /** A pathway version by hash: in memory, or restored from its stored copy. */
  versionFor(hash: string): Promise<PathwayVersion>;
  close(): Promise<void>;
}

/** Everything the service runs on: built here, without Fastify, and served by src/app.ts. */
export interface Services extends StoreServices {
  decider: Decider;
  security: Security;
  assessments: AssessmentService;
  callbacks: CallbackService;
  verifications: VerificationService;
  reports: ReportService;
  metrics: ServiceMetrics;
}

export interface ServiceOptions {
  log: ServiceLog;
  /** The callback queue's clock (due times, leases); tests move it forward. */
  now?: () => Date;
}

/** Closes what was opened, last first; the first failure is thrown once every close has run. */
async function closeAll(closers: (() => Promise<void> | void)[]): Promise<void> {
  let failure: unknown;
  for (const close of closers.reverse()) {
    try {
      await close();
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure !== undefined) throw failure;
}

/** Opens what `open` builds, closing whatever it had opened if it fails part-way. */
async function opening<T>(open: (onClose: (close: () => Promise<void> | void) => void) => Promise<T>): Promise<{ value: T; close: () => Promise<void> }> {
  const closers: (() => Promise<void> | void)[] = [];
  try {
    const value = await open((close) => closers.push(close));
    return { value, close: () => closeAll(closers) };
  } catch (err) {
    await closeAll(closers).catch(() => undefined);
    throw err;
  }
}

const openDatabase = (config: Config, log: ServiceLog): Promise<Store> =>
  openStore(config.DATABASE_URL, {
    onError: (err) => log.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, describeStoreError(err)),
    packTraces: config.TRACE_STORAGE === 'packed',
  });

/** The command-line tools' services: the database named by DATABASE_URL, nothing served. */
export async function createStoreServices(config: Config, options: Pick<ServiceOptions, 'log'> = { log: SILENT_LOG }): Promise<StoreServices> {
  const { value, close } = await opening(async (onClose) => {
    const store = await openDatabase(config, options.log);
    onClose(() => store.close());
    const triage = new Triage([], { timeoutMs: config.TRIAGE_EVAL_TIMEOUT_MS, ruleEvaluation: config.TRIAGE_RULE_EVALUATION });
    // This process serves nothing: an activation here is checked and recorded, and the running
    // instances switch (PostgreSQL NOTIFY, or a SQLite instance polling the database).
    const releases = releaseService(store, triage, { requireSignOff: requiresSignOff(config), files: [] });
    return { config, store, triage, traces: traceRepository(versionLookup(triage)), releases, versionFor: versionResolver(triage, store.read) };
  });
  return { ...value, close };
}

/**
 * Builds the whole service: rules loaded and checked (or start-up fails), the store opened and
 * migrated, engines prepared, the active release followed. Closing finishes the decisions still
 * in workers first, so their writes reach the store's queue before it drains and closes.
 */
export async function createServices(config: Config, options: ServiceOptions): Promise<Services> {
  const { log } = options;
  const { value, close } = await opening(async (onClose) => {
    const catalog = await loadRuleCatalog(config.RULES_DIR);
    const files = [...catalog.versions.values()];
    const security = await setUpSecurity(config);
    const store = await openDatabase(config, log);
    onClose(() => store.close());
    const verifications = verificationService(store, config.DATABASE_URL);
    onClose(() => verifications.close());
    // A fail-safe is a clinical incident to look into; the log line names no patient data.
    const onFailSafe = (cause: string, detail: string): void => log.error({ cause, detail }, 'triage fell back to the conservative outcome');
    const settings = { timeoutMs: config.TRIAGE_EVAL_TIMEOUT_MS, ruleEvaluation: config.TRIAGE_RULE_EVALUATION };
    const triage = new Triage(files, { ...settings, onFailSafe });
    const metrics = serviceMetrics(store, config.TRIAGE_WORKERS > 0 ? new DecisionPool({ ...settings, threads: config.TRIAGE_WORKERS, onFailSafe }) : localDecider(triage), options.now);
    const { decider } = metrics;
    onClose(() => decider.close());
    const callbacks = callbackService(store, {
      leaseSeconds: config.CALLBACK_LEASE_SECONDS,
      cipher: security.cipher,
      dramaNumbers: config.NODE_ENV !== 'production',
      now: options.now,
    });
    await callbacks.sealClearText();
    await callbacks.listen();
    const releases = releaseService(store, triage, {
      requireSignOff: requiresSignOff(config),
      files,
      onActivated: (id) => log.info({ release: id, pathways: triage.pathways().map((p) => `${p.id}@${p.hash.slice(0, 12)}`) }, id ? 'release active' : `serving the rule files in ${config.RULES_DIR}`),
    });
    // Serve the database's active release if one is active; otherwise the rule files.
    onClose(() => releases.stop());
    await releases.follow((err) => log.error({ err: { message: err.message } }, 'could not switch release; the current one keeps serving'));
    const live = await releases.current();
    if (live) {
      // Said once, at start-up: edits to the rule files do not go live while a release serves.
      log.warn(
        { release: live.releaseId, activatedAt: live.at, activatedBy: live.by, rulesDir: config.RULES_DIR },
        `serving release ${live.releaseId} (activated ${live.at} by ${live.by}), not the rule files in ${config.RULES_DIR}; ${releases.filesAgain()}`,
      );
    }
    announceDevKeys(security, log);
    return {
      config,
      store,
      triage,
      decider,
      security,
      traces: traceRepository(versionLookup(triage)),
      versionFor: versionResolver(triage, store.read),
      verifications,
      callbacks,
      assessments: assessmentService(store, triage, decider, callbacks),
      releases,
      reports: reportService(store, { abandonedAfterMinutes: config.ASSESSMENT_ABANDONED_AFTER_MINUTES, now: options.now }),
      metrics,
    };
  });
  return { ...value, close };
}

/** One line at every start saying which generated keys are in use and where; never the keys. */
function announceDevKeys(security: Security, log: ServiceLog): void {
  if (!security.devKeys) return;
  const { file, created, apiKeys, encryptionKey } = security.devKeys;
  const generated = [apiKeys && 'staff API keys', encryptionKey && 'the contact encryption key'].filter(Boolean);
  log.warn({ keysFile: file }, `development mode: ${generated.join(' and ')} ${generated.length > 1 ? 'were' : 'was'} generated, not configured, and kept in ${file}; never use this in production`);
  if (apiKeys && created) {
    // Shown once, when generated, on the terminal rather than in the logs.
    process.stderr.write(
      `\nDevelopment API keys (send as x-api-key), kept in ${file}:\n` +
        Object.entries(apiKeys)
          .map(([role, key]) => `  ${role.padEnd(12)} ${key}`)
          .join('\n') +
        '\n\n',
    );
  }
}
