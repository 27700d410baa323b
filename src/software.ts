import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Recorded in every trace, so an auditor knows which software made the decision. */
export const SOFTWARE = {
  app: (require('../../package.json') as { version: string }).version,
  jsonRulesEngine: (require('json-rules-engine/package.json') as { version: string }).version,
} as const;
