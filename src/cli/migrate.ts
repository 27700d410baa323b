#!/usr/bin/env node
import { loadConfig } from '../config.js';
import { openStore } from '../store/store.js';

/** npm run migrate: brings the database named by DATABASE_URL to the latest schema, then exits. */
const config = loadConfig();
const store = await openStore(config.DATABASE_URL);
console.log(`database ${store.location} (${store.dialect}) is at the latest schema`);
await store.close();
