#!/usr/bin/env node
import { run } from '../triage-rules.js';
import { runAsProcess } from '../run.js';

runAsProcess(run);
