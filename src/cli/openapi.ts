import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Fastify from 'fastify';
import triageApp, { serverOptions } from '../app.js';
import { loadConfig } from '../config.js';

/**
 * openapi/openapi.json is generated from the routes' zod schemas and committed, so API changes
 * show up in review. `write` regenerates it; `check` fails when the committed file is stale.
 */
const target = path.resolve('openapi/openapi.json');

async function generate(): Promise<string> {
  // No decision workers: nothing is decided here, and a worker still loading when the app closes
  // has crashed the process on Node 20 (a fatal error in its module loader).
  const config = loadConfig({ ...process.env, DATABASE_URL: ':memory:', LOG_LEVEL: 'silent', TRIAGE_WORKERS: '0' });
  const app = Fastify(serverOptions(config));
  await app.register(triageApp, { config });
  await app.ready();
  const document = JSON.stringify(app.swagger(), null, 2) + '\n';
  await app.close();
  return document;
}

const mode = process.argv[2];
const document = await generate();
if (mode === 'write') {
  await writeFile(target, document);
  console.log(`wrote ${path.relative(process.cwd(), target)}`);
} else if (mode === 'check') {
  const committed = await readFile(target, 'utf8').catch(() => '');
  if (committed !== document) {
    console.error('openapi/openapi.json is out of date with the routes: run `npm run openapi` and commit the result');
    process.exitCode = 1;
  } else {
    console.log('openapi/openapi.json is up to date');
  }
} else {
  console.error('usage: openapi write|check');
  process.exitCode = 2;
}
