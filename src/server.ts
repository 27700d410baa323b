import { readFile } from 'node:fs/promises';
import Fastify from 'fastify';
import triageApp, { serverOptions } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { RuleSetLoadError } from './rulesets/loader.js';

/** Starts the service and closes it gracefully: in-flight requests finish, the database closes. */
async function main(): Promise<void> {
  const config = loadConfig();
  const app = Fastify(serverOptions(config));
  await app.register(triageApp, { config });
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) {
      return;
    }
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      app.log.error('in-flight requests did not finish in time; exiting');
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'error while closing');
        process.exit(1);
      },
    );
  };
  // SIGHUP: go live with the release named in RELEASE_ID_FILE, without a restart.
  process.on('SIGHUP', () => {
    if (!config.RELEASE_ID_FILE) {
      app.log.warn('SIGHUP ignored: RELEASE_ID_FILE is not set');
      return;
    }
    readFile(config.RELEASE_ID_FILE, 'utf8')
      .then((text) => app.releases.activate(text.trim(), 'SIGHUP'))
      .then(
        (release) => app.log.info({ release: release.id }, 'release activated on SIGHUP'),
        (err: unknown) => app.log.error({ err: { message: err instanceof Error ? err.message : String(err) } }, 'SIGHUP activation refused; the current release keeps serving'),
      );
  });
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  await app.listen({ port: config.PORT, host: config.HOST });
  app.log.info({ pathways: app.triage.pathways().map((p) => `${p.id}@${p.version}`), database: app.store.location }, 'triage service ready; API docs at /docs');
}

main().catch((err: unknown) => {
  // One clear line for the person starting the service; no stack for expected failures.
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else if (err instanceof RuleSetLoadError) {
    console.error(err.message);
  } else {
    console.error('failed to start:', err);
  }
  process.exit(1);
});
