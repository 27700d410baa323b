import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config.js';
import { formatFinding, loadRuleCatalog, RuleSetLoadError, type Finding, type RuleCatalog } from '../rulesets/loader.js';
import { outcomeNeed } from '../rulesets/schema.js';
import { pathwayRef } from '../rulesets/version.js';
import { diffCatalogs } from '../authoring/diff.js';
import { DISPOSITIONS_DOC, dispositionsMarkdown } from '../authoring/dispositions.js';
import { lintCatalog } from '../authoring/lint.js';
import { evaluateSearch, loadLabelledQueries, meetsFloors, SEARCH_FLOORS, SEARCH_QUERIES_FILE } from '../search/evaluation.js';
import { TopicSearch } from '../search/topic-search.js';
import { allTopics } from '../rulesets/topics.js';
import { readability, TARGET_READING_AGE } from '../authoring/readability.js';
import { loadScenarioFiles } from '../rulesets/scenarios.js';
import type { ReleaseService } from '../releases/service.js';
import { unbumpedChanges } from '../releases/version-bump.js';
import { authorise, type Access, type Principal } from '../security/roles.js';
import { identify, setUpSecurity } from '../security/setup.js';
import { createStoreServices, type StoreServices } from '../services.js';
import { explain } from '../traces/explain.js';
import { impact, type OutcomeSummary } from '../authoring/impact.js';
import { draftTrace, expandTrace, GENESIS_HASH, sealTrace, type SealedTrace } from '../traces/trace.js';
import { givenAnswers, type Answer, type Patient } from '../triage/answers.js';
import { DomainError, NotAuthenticated } from '../errors.js';
import { coverage, type CoverageSummary } from '../authoring/coverage.js';
import { decided } from '../triage/decision.js';
import { runScenario } from '../triage/scenario-runner.js';
import { Triage } from '../triage/triage.js';
import { writeLine, type CliIo } from './run.js';

/**
 * triage-rules: the clinicians' command-line tool. Human-readable output by default, JSON with
 * --format json. Exit codes: 0 success, 1 findings, 2 usage errors.
 */
const USAGE = `usage: triage-rules <command> [options]
  validate [dir]                       load and cross-check every rule file
  lint [dir]                           validate, then look for rules that can never fire, questions never
                                       asked or never used, conflicting rules, overdue reviews; the reading
                                       age of each file and outcome, with advisory warnings above 11
  test [dir]                           run every scenario through the decision code the API uses
                                       (also: scenarios [dir])
  dispositions [dir] [--write|--check] the dispositions catalogue as docs/dispositions.md
  coverage [dir] [--min-rules N]       rules, questions and outcomes the scenarios reach
  search-eval [dir] [--queries FILE]   hit@1 and hit@3 of the symptom search over labelled lay queries
                                       (default test/fixtures/search-queries.yaml), and each miss
  diff <old> <new>                     what changed between two rule directories or git revisions
  impact <candidate-dir> [--since D]   replay past assessments (DATABASE_URL) step by step on a candidate
  explain <pathway> --answers JSON --age N --sex female|male [--dir dir]
                                       the decision and its explanation, as the API would give it
  release <dir> --summary S [--hazards H-01,H-02] [--acknowledge-impact]
                                       check everything (lint, scenarios, coverage, impact, version
                                       bumps) and record a release in the database (DATABASE_URL),
                                       authored by the clinician whose credential is given
  release sign-off <id>                sign a release off as clinical safety officer (a clinician,
                                       not its author)
  release activate <id>                go live with a release, or roll back to an earlier one (admin)
  release deactivate                   serve the rule files again (admin)
  release list                         releases with sign-off, status and activation history
release commands that record who did something take the caller's own credential from
TRIAGE_API_KEY (an API key) or TRIAGE_TOKEN (a bearer token), checked as the API checks it
options: --format text|json (default text); dir defaults to ./rules`;

class UsageError extends Error {}

type Format = 'text' | 'json';
type Options = { format: Format; values: Record<string, string | undefined>; positionals: string[]; io: CliIo };

function print({ format, io }: Pick<Options, 'format' | 'io'>, json: unknown, text: () => string[]): void {
  writeLine(io.stdout, format === 'json' ? JSON.stringify(json, null, 2) : text().join('\n'));
}

const rulesDir = (io: CliIo, dir: string | undefined) => path.resolve(io.cwd, dir ?? 'rules');

async function validate(o: Options): Promise<number> {
  const { positionals } = o;
  const catalog = await loadRuleCatalog(rulesDir(o.io, positionals[0]));
  const pathways = [...catalog.versions.values()].map(pathwayRef);
  print(o, { ok: true, pathways }, () => pathways.map((p) => `ok ${p.id} ${p.version} ${p.hash.slice(0, 12)}`));
  return 0;
}

/** Prints docs/dispositions.md as the catalogue makes it; --write writes it, --check fails if it is stale. */
async function dispositions(o: Options): Promise<number> {
  const markdown = dispositionsMarkdown(await loadRuleCatalog(rulesDir(o.io, o.positionals[0])));
  const doc = path.resolve(o.io.cwd, DISPOSITIONS_DOC);
  if (o.values.write) {
    await writeFile(doc, markdown);
    writeLine(o.io.stdout, `wrote ${DISPOSITIONS_DOC}`);
    return 0;
  }
  if (o.values.check) {
    const current = await readFile(doc, 'utf8').catch(() => '');
    if (current === markdown) return 0;
    writeLine(o.io.stderr, `${DISPOSITIONS_DOC} is out of date with the catalogue: run npm run rules -- dispositions --write`);
    return 1;
  }
  writeLine(o.io.stdout, markdown.trimEnd());
  return 0;
}

async function lint(o: Options): Promise<number> {
  const { positionals } = o;
  const catalog = await loadRuleCatalog(rulesDir(o.io, positionals[0]));
  const findings = lintCatalog(catalog);
  // Advisory: a formula's figure is a prompt to rewrite, not a fault, so it does not fail lint.
  const reading = readability([catalog.redFlags, ...catalog.modules, ...catalog.pathways]);
  print(o, { ok: findings.length === 0, findings, readability: { targetAge: TARGET_READING_AGE, ...reading } }, () => [
    ...findings.map(formatFinding),
    `reading age (Flesch-Kincaid grade + 5; NHS standard about ${TARGET_READING_AGE}), per file and per outcome:`,
    ...reading.files.map((f) => `  ${f.file}: ${f.readingAge ?? '-'} (${f.words} words); outcomes ${f.outcomes.map((x) => `${x.id} ${x.readingAge ?? '-'}`).join(', ') || 'none'}`),
    ...reading.findings.map(formatFinding),
    `${reading.findings.length} page${reading.findings.length === 1 ? '' : 's'} above reading age ${TARGET_READING_AGE} (advisory)`,
    `${findings.length} finding${findings.length === 1 ? '' : 's'}`,
  ]);
  return findings.length ? 1 : 0;
}

async function test(o: Options): Promise<number> {
  const { positionals } = o;
  const dir = rulesDir(o.io, positionals[0]);
  const catalog = await loadRuleCatalog(dir);
  const triage = new Triage(catalog.versions.values(), { timeoutMs: 2000 });
  const results: { file: string; pathway: string; name: string; passed: boolean; differences: string[] }[] = [];
  for (const file of await loadScenarioFiles(dir)) {
    const version = catalog.versions.get(file.pathway);
    for (const scenario of file.scenarios) {
      const result = version ? await runScenario(triage, version, scenario) : { name: scenario.name, passed: false, differences: [`unknown pathway ${file.pathway}`] };
      results.push({ file: file.file, pathway: file.pathway, name: result.name, passed: result.passed, differences: result.differences });
    }
  }
  const failed = results.filter((r) => !r.passed).length;
  print(o, { ok: failed === 0, passed: results.length - failed, failed, results }, () => [
    ...results.flatMap((r) => [`${r.passed ? 'pass' : 'FAIL'} ${r.pathway}: ${r.name}`, ...r.differences.map((d) => `     ${d}`)]),
    `${results.length - failed} passed, ${failed} failed`,
  ]);
  return failed === 0 ? 0 : 1;
}

async function searchEval(o: Options): Promise<number> {
  const { positionals, values } = o;
  const versions = [...(await loadRuleCatalog(rulesDir(o.io, positionals[0]))).versions.values()];
  const queries = await loadLabelledQueries(path.resolve(o.io.cwd, values.queries ?? SEARCH_QUERIES_FILE));
  const search = new TopicSearch(versions);
  const result = evaluateSearch((q) => search.search(q).topics.map((t) => t.id), new Set(allTopics(versions).map((t) => t.id)), queries);
  const ok = meetsFloors(result);
  print(o, { ok, floors: SEARCH_FLOORS, ...result }, () => [
    `${result.evaluated} queries run; ${result.skipped.count} skipped, their topic not in these rules${result.skipped.topics.length ? `: ${result.skipped.topics.join(', ')}` : ''}`,
    `hit@1 ${result.hitAt1}% (floor ${SEARCH_FLOORS.hitAt1}%), hit@3 ${result.hitAt3}% (floor ${SEARCH_FLOORS.hitAt3}%)`,
    ...(result.misses.length ? ['not first, by topic (* not in the first three):'] : []),
    ...[...result.misses].sort((a, b) => a.topic.localeCompare(b.topic)).map((m) => `  ${m.top3 ? ' ' : '*'} ${m.topic}: "${m.q}" -> ${m.got.join(', ') || 'nothing'}`),
    ok ? 'search meets its floors' : 'FAIL search is below its floors',
  ]);
  return ok ? 0 : 1;
}

async function coverageCommand(o: Options): Promise<number> {
  const { positionals, values } = o;
  const dir = rulesDir(o.io, positionals[0]);
  const min = values['min-rules'] === undefined ? undefined : Number(values['min-rules']);
  if (min !== undefined && !(min >= 0 && min <= 100)) {
    throw new UsageError('--min-rules takes a percentage from 0 to 100');
  }
  const catalog = await loadRuleCatalog(dir);
  const report = await coverage(catalog, new Triage(catalog.versions.values(), { timeoutMs: 2000 }), await loadScenarioFiles(dir), min);
  const failures = [
    ...report.pathways.flatMap((p) => p.failures.map((f) => `${p.pathway}: ${f}`)),
    ...report.modules.flatMap((m) => m.failures.map((f) => `module ${m.module}: ${f}`)),
    ...report.globalRedFlags.missed.map((id) => `global red flag ${id} is not covered by any scenario`),
    ...report.scenarioFailures.map((f) => `${f.pathway}: scenario "${f.name}" fails`),
  ];
  print(o, { ok: failures.length === 0, ...report, failures }, () => [
    ...report.pathways.map(
      (p) =>
        `${p.pathway}: rules ${p.rules.covered.length}/${p.rules.total} (${p.rulePercent}%)` +
        `, questions ${p.questions.asked.length}/${p.questions.total}, outcomes ${p.outcomes.reached.length}/${p.outcomes.total}` +
        (p.rules.missed.length ? `\n  rules not covered: ${p.rules.missed.join(', ')}` : '') +
        (p.questions.missed.length ? `\n  questions never asked: ${p.questions.missed.join(', ')}` : '') +
        (p.outcomes.missed.length ? `\n  outcomes never reached: ${p.outcomes.missed.join(', ')}` : ''),
    ),
    ...report.modules.map(
      (m) =>
        `module ${m.module}: rules ${m.rules.covered.length}/${m.rules.total} (${m.rulePercent}%), included by ${m.includedBy.join(', ') || 'no pathway'}` +
        (m.rules.missed.length ? `\n  rules not covered: ${m.rules.missed.join(', ')}` : ''),
    ),
    `global red flags: ${report.globalRedFlags.covered.length}/${report.globalRedFlags.total}`,
    summaryLine(report.summary),
    ...failures.map((f) => `FAIL ${f}`),
  ]);
  return failures.length ? 1 : 0;
}

/** Topics per age band, scenarios, rules and coverage, in one line (also for the README). */
function summaryLine(s: CoverageSummary): string {
  const bands = `adults ${s.topicsByBand.adult}, children 5-15 ${s.topicsByBand.child}, under-5s ${s.topicsByBand.under5}`;
  return `catalogue: ${s.topics} topics (${bands}); ${s.pathways} pathways, ${s.modules} modules; ${s.scenarios} scenarios; rules covered ${s.rules.covered}/${s.rules.total} (${s.rules.percent}%)`;
}

/** A directory as is, or a git revision's rules directory checked out into a temporary one. */
function materialise(cwd: string, ref: string, subdir: string, cleanup: (() => void)[]): string {
  const asDir = path.resolve(cwd, ref);
  if (existsSync(asDir) && statSync(asDir).isDirectory()) {
    return asDir;
  }
  let archive: Buffer;
  try {
    archive = execFileSync('git', ['archive', '--format=tar', ref, subdir], { cwd, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
  } catch {
    throw new UsageError(`${ref} is neither a directory nor a git revision containing ${subdir}/`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'triage-rules-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  return path.join(dir, subdir);
}

async function diff(o: Options): Promise<number> {
  const { positionals, values } = o;
  const [oldRef, newRef] = positionals;
  if (!oldRef || !newRef) {
    throw new UsageError('diff needs two directories or git revisions');
  }
  const cleanup: (() => void)[] = [];
  try {
    const subdir = values.path ?? 'rules';
    const before = await loadRuleCatalog(materialise(o.io.cwd, oldRef, subdir, cleanup));
    const after = await loadRuleCatalog(materialise(o.io.cwd, newRef, subdir, cleanup));
    const changes = diffCatalogs(before, after);
    const show = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v));
    print(o, { changes }, () =>
      changes.length === 0
        ? ['no changes']
        : changes.flatMap((c) => [
            `${c.change} ${c.kind === 'module' ? 'module ' : ''}${c.id}`,
            ...(c.pathways ? [`  changes the pathways that include it: ${c.pathways.join(', ') || 'none'}`] : []),
            ...c.fields.map((f) => `  ${f.field}: ${show(f.before)} -> ${show(f.after)}`),
            ...c.items.flatMap((i) => [`  ${i.change} ${i.kind} ${i.id}`, ...i.fields.map((f) => `    ${f.field}: ${show(f.before)} -> ${show(f.after)}`)]),
          ]),
    );
    return 0;
  } finally {
    cleanup.forEach((c) => c());
  }
}

async function impactCommand(o: Options): Promise<number> {
  const { positionals, values } = o;
  if (!positionals[0]) {
    throw new UsageError('impact needs a candidate rules directory');
  }
  const since = values.since;
  if (since !== undefined && Number.isNaN(Date.parse(since))) {
    throw new UsageError(`--since ${since} is not a date`);
  }
  const candidate = await loadRuleCatalog(rulesDir(o.io, positionals[0]));
  const config = loadConfig(o.io.env);
  const services = await createStoreServices(config);
  try {
    const traces = services.traces.bodies(services.store.read, { from: since ? new Date(since).toISOString() : undefined });
    const report = await impact(traces, candidate, new Triage(candidate.versions.values(), { timeoutMs: config.TRIAGE_EVAL_TIMEOUT_MS }));
    const outcome = (o: OutcomeSummary | null) => (o ? `${o.kind} ${o.disposition} (${o.ruleId ?? 'fallback'})` : 'more questions');
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    print(o, { ok: report.safetyFindings.length === 0, ...report }, () => [
      ...report.pathways.map(
        (p) =>
          `${p.pathway}: ${p.replayed} decisions replayed; ${p.counts.same} keep their outcome, ${p.counts.up} move up, ${p.counts.down} move down` +
          (p.counts.sideways ? `, ${p.counts.sideways} change at the same urgency` : '') +
          (p.counts.asks_more ? `, ${p.counts.asks_more} would ask more questions` : '') +
          (p.counts.not_applicable ? `, ${p.counts.not_applicable} no longer apply` : '') +
          (p.counts.pathway_removed ? `, ${p.counts.pathway_removed} on a removed pathway` : '') +
          (p.candidate && p.changed
            ? `\n  the candidate is a new version (${p.candidate.version} ${p.candidate.hash.slice(0, 12)}${p.candidate.modules.length ? `, modules ${p.candidate.modules.map((m) => `${m.id} ${m.version}`).join(', ')}` : ''})`
            : '') +
          p.moves.map((m) => `\n  ${m.movement} ${m.count}: ${outcome(m.before)} -> ${outcome(m.after)}, e.g. ${m.examples.join(', ')}`).join(''),
      ),
      ...report.moreQuestions.map(
        (f) =>
          `MORE QUESTIONS ${f.pathway}: ${f.assessmentId ? `assessment ${f.assessmentId}` : 'decision'} (trace ${f.traceId}) ended ${outcome(f.before)}; ` +
          `the candidate would ask ${plural(f.wouldAsk.length, 'more question')} (${f.wouldAsk.join(', ')})` +
          (f.askedFor ? `, for rule ${f.askedFor.ruleId}: it could still mean ${outcomeNeed(f.askedFor)}` : ''),
      ),
      ...report.safetyFindings.map(
        (f) => `SAFETY ${f.pathway}: trace ${f.traceId} was ${f.before.kind} ${f.before.disposition} (${f.before.ruleId ?? 'fallback'}), would be self_care ${f.after.disposition} (${f.after.ruleId})`,
      ),
      report.pathways.length ? `${plural(report.safetyFindings.length, 'safety finding')}, ${plural(report.moreQuestions.length, 'decision')} that would ask more questions` : 'no decisions to replay',
    ]);
    return report.safetyFindings.length ? 1 : 0;
  } finally {
    await services.close();
  }
}

async function explainCommand(o: Options): Promise<number> {
  const { positionals, values } = o;
  const pathwayId = positionals[0];
  const age = Number(values.age);
  if (!pathwayId || !values.answers || values.age === undefined || !Number.isInteger(age) || !['female', 'male'].includes(values.sex ?? '')) {
    throw new UsageError('explain needs <pathway> --answers JSON --age N --sex female|male');
  }
  let given: Record<string, unknown>;
  try {
    given = JSON.parse(values.answers) as Record<string, unknown>;
  } catch {
    throw new UsageError('--answers must be a JSON object of questionId: value');
  }
  const catalog: RuleCatalog = await loadRuleCatalog(rulesDir(o.io, values.dir));
  const triage = new Triage(catalog.versions.values(), { timeoutMs: 2000 });
  const version = triage.pathway(pathwayId);
  const patient: Patient = { ageYears: age, sex: values.sex as Patient['sex'] };
  triage.checkApplies(version, patient);
  let answers: Answer[];
  try {
    answers = givenAnswers(version, given);
  } catch (err) {
    throw err instanceof DomainError ? new UsageError(err.message) : err;
  }
  const decision = await triage.decide(version, patient, answers);
  const draft = draftTrace({ version, assessmentId: null, step: null, patient, answers, decision, startedAt: Date.now(), durationMs: 0 });
  const explanation = explain(expandTrace(JSON.parse(sealTrace(draft, 0, GENESIS_HASH).text) as SealedTrace, version));
  print(o, { ...decided(decision), explanation }, () => [explanation.summary, ...explanation.ruledOut, ...explanation.settled, ...explanation.setAside, ...explanation.counted]);
  return 0;
}

/** Hazard ids listed in the hazard log's table (`| H-01 | ...`). */
function hazardIds(file: string): Set<string> {
  return new Set([...readFileSync(file, 'utf8').matchAll(/^\|\s*(H-\d+)\s*\|/gm)].map((m) => m[1]!));
}

/**
 * The person running a release command, by their own credential checked exactly as the API checks
 * it (the service's TRIAGE_API_KEYS, TRIAGE_API_KEYS_FILE or AUTH_JWKS_URL), with the role the
 * matching API route needs.
 */
async function caller(env: NodeJS.ProcessEnv, config: Config, access: Access): Promise<Principal> {
  const credential = { apiKey: env.TRIAGE_API_KEY, bearer: env.TRIAGE_TOKEN };
  const principal = await identify(await setUpSecurity(config), credential);
  if (!principal) {
    const given = credential.apiKey ? 'the key in TRIAGE_API_KEY is not one this service accepts' : credential.bearer ? 'the token in TRIAGE_TOKEN is not valid here' : 'neither is set';
    throw new NotAuthenticated(`this needs your own staff credential: set TRIAGE_API_KEY to your API key, or TRIAGE_TOKEN to a bearer token from the identity provider (${given})`);
  }
  return authorise(principal, access);
}

/** Runs a release subcommand on the database (DATABASE_URL), closing it afterwards. */
async function withReleases<T>(env: NodeJS.ProcessEnv, work: (releases: ReleaseService, services: StoreServices) => Promise<T>): Promise<T> {
  const services = await createStoreServices(loadConfig(env));
  try {
    return await work(services.releases, services);
  } finally {
    await services.close();
  }
}

const nextSteps = (id: string) => [
  `sign it off (a clinical safety officer, not the author): TRIAGE_API_KEY=<their clinician key> npm run rules -- release sign-off ${id}`,
  `then go live (an admin): TRIAGE_API_KEY=<admin key> npm run rules -- release activate ${id}`,
];

async function recordRelease(o: Options): Promise<number> {
  const { positionals, values } = o;
  const dir = positionals[0];
  if (values.approver !== undefined || values.author !== undefined) {
    throw new UsageError(
      '--author and --approver are no longer accepted: the author is whoever records the release with their credential (TRIAGE_API_KEY or TRIAGE_TOKEN), and a clinical safety officer signs it off with theirs (release sign-off <id>)',
    );
  }
  if (!dir || !values.summary) {
    throw new UsageError('release needs <dir> --summary S');
  }
  const hazards = (values.hazards ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  const known = hazardIds(path.resolve(o.io.cwd, values['hazard-log'] ?? 'docs/hazard-log.md'));
  const unknownHazards = hazards.filter((h) => !known.has(h));
  if (unknownHazards.length) {
    throw new UsageError(`not in the hazard log: ${unknownHazards.join(', ')}`);
  }
  return withReleases(o.io.env, async (releases, { store, traces, config }) => {
    const author = await caller(o.io.env, config, 'releaseSignOff');
    const rulesPath = rulesDir(o.io, dir);
    const catalog = await loadRuleCatalog(rulesPath);
    const triage = new Triage(catalog.versions.values(), { timeoutMs: 2000 });
    const reasons: string[] = [];
    const lintFindings = lintCatalog(catalog);
    reasons.push(...lintFindings.filter((f) => f.severity === 'error').map((f) => `lint: ${formatFinding(f)}`));
    const cov = await coverage(catalog, triage, await loadScenarioFiles(rulesPath));
    reasons.push(...cov.scenarioFailures.map((f) => `scenario fails: ${f.pathway}: ${f.name}`));
    reasons.push(...cov.pathways.flatMap((p) => p.failures.map((f) => `coverage: ${p.pathway}: ${f}`)));
    reasons.push(...cov.globalRedFlags.missed.map((id) => `coverage: global red flag ${id} is not covered`));
    reasons.push(...(await unbumpedChanges(store.read, catalog)).map((r) => `version: ${r}`));
    const report = await impact(traces.bodies(store.read, {}), catalog, triage);
    if (report.safetyFindings.length && values['acknowledge-impact'] === undefined) {
      reasons.push(
        `impact: ${report.safetyFindings.length} past decisions would move from escalate or callback to self-care; review them (triage-rules impact) and pass --acknowledge-impact to record the release anyway`,
      );
    }
    if (reasons.length) {
      print(o, { ok: false, reasons }, () => ['release refused:', ...reasons.map((r) => `  ${r}`)]);
      return 1;
    }
    const record = await releases.record({
      author,
      catalog,
      summary: values.summary!,
      hazards,
      checks: {
        lintWarnings: lintFindings.filter((f) => f.severity === 'warning').map(formatFinding),
        scenarios: cov.pathways.map((p) => ({ pathway: p.pathway, rulePercent: p.rulePercent })),
        impact: report.pathways.map((p) => ({ pathway: p.pathway, ...p.counts })),
        safetyFindingsAcknowledged: report.safetyFindings.map((f) => f.traceId),
      },
    });
    print(o, { ok: true, release: record }, () => [
      `recorded release ${record.id} by ${record.author} (not signed off yet)`,
      ...record.pathways.map((p) => `  ${p.id} ${p.version} ${p.hash.slice(0, 12)}`),
      ...nextSteps(record.id),
    ]);
    return 0;
  });
}

/** The id a release subcommand acts on. */
function releaseId({ positionals }: Options): string {
  const id = positionals[1];
  if (!id) {
    throw new UsageError(`release ${positionals[0]} needs the release id (release list shows them)`);
  }
  return id;
}

async function signOffRelease(o: Options): Promise<number> {
  const id = releaseId(o);
  return withReleases(o.io.env, async (releases, { config }) => {
    const release = await releases.signOff(id, await caller(o.io.env, config, 'releaseSignOff'));
    print(o, { ok: true, release }, () => [`release ${id} signed off by ${release.approver} at ${release.signedOffAt}`, nextSteps(id)[1]!]);
    return 0;
  });
}

async function activateRelease(o: Options): Promise<number> {
  const id = releaseId(o);
  return withReleases(o.io.env, async (releases, { config }) => {
    const release = await releases.activate(id, (await caller(o.io.env, config, 'releaseActivation')).id);
    print(o, { ok: true, active: id, pathways: release.pathways }, () => [`release ${id} is active: every running instance switches to it within seconds`, releases.filesAgain()]);
    return 0;
  });
}

async function deactivateRelease(o: Options): Promise<number> {
  return withReleases(o.io.env, async (releases, { config }) => {
    const ended = await releases.deactivate((await caller(o.io.env, config, 'releaseActivation')).id);
    print(o, { ok: true, active: null, deactivated: ended }, () => [`release ${ended} deactivated: every running instance serves its rule files again within seconds`]);
    return 0;
  });
}

async function listReleases(o: Options): Promise<number> {
  return withReleases(o.io.env, async (releases) => {
    const list = (await releases.list()).map(({ checks: _checks, ...r }) => r);
    print(o, { releases: list }, () =>
      list.length === 0
        ? ['no releases recorded']
        : list.map(
            (r) =>
              `${r.active ? '*' : ' '} ${r.id} ${r.createdAt} by ${r.author}, ${r.signedOff ? `signed off by ${r.approver}` : 'NOT signed off'}: ${r.summary}` +
              (r.activations.length ? `\n    ${r.activations.map((a) => `${a.action}d ${a.at} by ${a.by}`).join('; ')}` : ''),
          ),
    );
    return 0;
  });
}

const RELEASE_SUBCOMMANDS: Record<string, (o: Options) => Promise<number>> = {
  'sign-off': signOffRelease,
  activate: activateRelease,
  deactivate: deactivateRelease,
  list: listReleases,
};

const releaseCommand = (o: Options): Promise<number> => (RELEASE_SUBCOMMANDS[o.positionals[0] ?? ''] ?? recordRelease)(o);

const COMMANDS: Record<string, (o: Options) => Promise<number>> = {
  validate,
  lint,
  test,
  // The name the content authors' brief uses for the same thing.
  scenarios: test,
  dispositions,
  coverage: coverageCommand,
  'search-eval': searchEval,
  diff,
  impact: impactCommand,
  explain: explainCommand,
  release: releaseCommand,
};

/** triage-rules with these arguments: the exit code; output to io.stdout and io.stderr. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        format: { type: 'string', default: 'text' },
        'min-rules': { type: 'string' },
        queries: { type: 'string' },
        since: { type: 'string' },
        answers: { type: 'string' },
        age: { type: 'string' },
        sex: { type: 'string' },
        dir: { type: 'string' },
        path: { type: 'string' },
        author: { type: 'string' },
        approver: { type: 'string' },
        summary: { type: 'string' },
        hazards: { type: 'string' },
        'hazard-log': { type: 'string' },
        'acknowledge-impact': { type: 'boolean' },
        write: { type: 'boolean' },
        check: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
  } catch (err) {
    writeLine(io.stderr, `${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, ...positionals] = parsed.positionals;
  const format = parsed.values.format as Format;
  if (parsed.values.help) {
    writeLine(io.stdout, USAGE);
    return 0;
  }
  const handler = command ? COMMANDS[command] : undefined;
  if (!handler || !['text', 'json'].includes(format)) {
    writeLine(io.stderr, USAGE);
    return 2;
  }
  try {
    const { format: _f, help: _h, 'acknowledge-impact': acknowledge, write, check, ...values } = parsed.values;
    const flags = { 'acknowledge-impact': acknowledge ? 'yes' : undefined, write: write ? 'yes' : undefined, check: check ? 'yes' : undefined };
    return await handler({ format, positionals, io, values: { ...values, ...flags } });
  } catch (err) {
    if (err instanceof UsageError) {
      writeLine(io.stderr, `${err.message}\n${USAGE}`);
      return 2;
    }
    if (err instanceof RuleSetLoadError) {
      const findings: Finding[] = err.findings;
      print({ format, io }, { ok: false, findings }, () => [...findings.map(formatFinding), `${findings.length} finding${findings.length === 1 ? '' : 's'}`]);
      return 1;
    }
    // A refusal (not found, not allowed, release refused...): its message, without HTTP.
    if (err instanceof DomainError) {
      writeLine(io.stderr, err.message);
      return 1;
    }
    throw err;
  }
}
