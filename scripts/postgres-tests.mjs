// npm run test:postgres: the PostgreSQL suites alone (see scripts/postgres-suites.mjs). With
// CI=true an unreachable PostgreSQL fails the run; elsewhere they are skipped with a message.
import { runPostgresSuites } from './postgres-suites.mjs';

const { code, skipped } = await runPostgresSuites();
if (skipped) console.error(`skipping the PostgreSQL suites: ${skipped}`);
process.exit(code);
