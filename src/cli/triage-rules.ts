#!/usr/bin/env node
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatFinding, loadRuleCatalog, RuleSetLoadError } from '../rulesets/loader.js';
import { loadScenarioFiles } from '../rulesets/scenarios.js';
import { runScenario } from '../triage/scenario-runner.js';
import { Triage } from '../triage/triage.js';

/**
 * triage-rules: the clinicians' command-line tool. Exit codes: 0 success, 1 findings, 2 usage.
 */
const USAGE = `usage: triage-rules <command> [dir] [--format text|json]
commands:
  validate [dir]   load and cross-check every rule file (default dir: ./rules)
  test [dir]       run every pathway's scenarios through the decision code the API uses`;

type Format = 'text' | 'json';

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { format: { type: 'string', default: 'text' }, help: { type: 'boolean' } } });
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, dirArg] = parsed.positionals;
  const format = parsed.values.format as Format;
  if (parsed.values.help || !command || !['text', 'json'].includes(format)) {
    console.error(USAGE);
    return parsed.values.help ? 0 : 2;
  }
  const dir = path.resolve(dirArg ?? 'rules');
  try {
    switch (command) {
      case 'validate':
        return await validate(dir, format);
      case 'test':
        return await test(dir, format);
      default:
        console.error(`unknown command ${command}\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof RuleSetLoadError) {
      if (format === 'json') {
        console.log(JSON.stringify({ ok: false, findings: err.findings }, null, 2));
      } else {
        console.log(err.findings.map(formatFinding).join('\n'));
      }
      return 1;
    }
    throw err;
  }
}

async function validate(dir: string, format: Format): Promise<number> {
  const catalog = await loadRuleCatalog(dir);
  const pathways = [...catalog.versions.values()].map((v) => ({ id: v.id, version: v.version, hash: v.hash }));
  if (format === 'json') {
    console.log(JSON.stringify({ ok: true, pathways }, null, 2));
  } else {
    for (const p of pathways) {
      console.log(`ok ${p.id} ${p.version} ${p.hash.slice(0, 12)}`);
    }
  }
  return 0;
}

async function test(dir: string, format: Format): Promise<number> {
  const catalog = await loadRuleCatalog(dir);
  const triage = new Triage(catalog.versions.values(), { timeoutMs: 2000 });
  const results = [];
  for (const file of await loadScenarioFiles(dir)) {
    const version = catalog.versions.get(file.pathway);
    for (const scenario of file.scenarios) {
      const result = version
        ? await runScenario(triage, version, scenario)
        : { name: scenario.name, passed: false, differences: [`unknown pathway ${file.pathway}`] };
      results.push({ file: file.file, pathway: file.pathway, name: result.name, passed: result.passed, differences: result.differences });
    }
  }
  const failed = results.filter((r) => !r.passed).length;
  if (format === 'json') {
    console.log(JSON.stringify({ ok: failed === 0, passed: results.length - failed, failed, results }, null, 2));
  } else {
    for (const r of results) {
      console.log(`${r.passed ? 'pass' : 'FAIL'} ${r.pathway}: ${r.name}`);
      for (const d of r.differences) {
        console.log(`     ${d}`);
      }
    }
    console.log(`${results.length - failed} passed, ${failed} failed`);
  }
  return failed === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 2;
  },
);
