// npm run test:postgres: the PostgreSQL suites alone (see scripts/postgres-suites.mjs). With
// CI=true an unreachable PostgreSQL fails the run; elsewhere they are skipped with a message.
import { spawnSync } from 'node:child_process';
import { runPostgresSuites } from './postgres-suites.mjs';

// Before the first run after `npm ci`, as scripts/test.mjs does (see there why).
spawnSync('npx', ['tap', 'build'], { stdio: 'inherit' });

const { code, skipped } = await runPostgresSuites();
if (skipped) console.error(`skipping the PostgreSQL suites: ${skipped}`);
process.exit(code);
