#!/usr/bin/env node
import { run } from '../traces.js';
import { runAsProcess } from '../run.js';

runAsProcess(run);
