import { parentPort, workerData } from 'node:worker_threads';

/** The thread offThread (helpers.ts) starts: calls one exported function and posts what it returns. */
const { module, name, args } = workerData as { module: string; name: string; args: unknown[] };
const exported = (await import(module)) as Record<string, (...args: unknown[]) => unknown>;
parentPort!.postMessage(await exported[name]!(...args));
