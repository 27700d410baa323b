import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { durationSeconds, ISO_DURATION } from './duration.js';
import {
  AGE_BANDS,
  isInclude,
  PATIENT_FACTS,
  RuleFileSchema,
  SEXES,
  UNSURE,
  type ConditionNode,
  type DispositionsFile,
  type ModuleFile,
  type Outcome,
  type PathwayFile,
  type Question,
  type RedFlagsFile,
  type TopLevelCondition,
} from './schema.js';
import { includedModuleIds, preparePathwayVersion, type PathwayVersion } from './version.js';

export type Severity = 'error' | 'warning';

/** One thing wrong in a rule file, located the way an editor would show it. */
export interface Finding {
  file: string;
  line: number;
  column: number;
  severity: Severity;
  code: string;
  message: string;
  path: (string | number)[];
}

export function formatFinding(f: Finding): string {
  return `${f.file}:${f.line}:${f.column}: ${f.severity} ${f.code}: ${f.message}`;
}

export class RuleSetLoadError extends Error {
  constructor(readonly findings: Finding[]) {
    super(`rule set refused (${findings.length} problem${findings.length === 1 ? '' : 's'}):\n${findings.map(formatFinding).join('\n')}`);
    this.name = 'RuleSetLoadError';
  }
}

/** A parsed rule file with what is needed to point at any place in it. */
export interface SourceFile {
  file: string;
  doc: Document;
  lineCounter: LineCounter;
}

export interface ParsedFile<T> {
  source: SourceFile;
  content: T;
}

/** Everything loaded from one rules directory; only ever built whole. */
export interface RuleCatalog {
  dir: string;
  redFlags: ParsedFile<RedFlagsFile>;
  pathways: ParsedFile<PathwayFile>[];
  modules: ParsedFile<ModuleFile>[];
  dispositions: ParsedFile<DispositionsFile>;
  versions: ReadonlyMap<string, PathwayVersion>;
}

/** The topic a pathway file serves: its `topic`, or its id. */
export const topicOf = (pathway: Pick<PathwayFile, 'id' | 'topic'>): string => pathway.topic ?? pathway.id;

export const SCENARIO_SUFFIX = /\.scenarios\.(ya?ml|json)$/;
const RULE_FILE = /\.(ya?ml|json)$/;

export function locate(source: SourceFile, at: (string | number)[]): { line: number; column: number } {
  // Walk up from the exact path until a node exists (a missing key points at its parent).
  for (let depth = at.length; depth >= 0; depth--) {
    const node = source.doc.getIn(at.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) {
      const pos = source.lineCounter.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return { line: 1, column: 1 };
}

export function finding(source: SourceFile, at: (string | number)[], code: string, message: string, severity: Severity = 'error'): Finding {
  return { file: source.file, ...locate(source, at), severity, code, message, path: at };
}

export async function listRuleFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && RULE_FILE.test(e.name) && !SCENARIO_SUFFIX.test(e.name))
    .map((e) => path.join(dir, e.name))
    .sort();
}

/** Parses YAML or JSON (JSON is YAML) keeping positions; syntax errors become findings. */
export async function parseSourceFile(file: string, displayName = file): Promise<{ source: SourceFile; findings: Finding[] }> {
  const text = await readFile(file, 'utf8');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const source: SourceFile = { file: displayName, doc, lineCounter };
  const findings = doc.errors.map((e) => {
    const pos = lineCounter.linePos(e.pos[0]);
    return { file: displayName, line: pos.line, column: pos.col, severity: 'error' as const, code: 'yaml-syntax', message: e.message.split('\n')[0] ?? e.message, path: [] };
  });
  return { source, findings };
}

export function schemaFindings(source: SourceFile, error: z.ZodError): Finding[] {
  return closestIssues(error.issues).map((issue) => {
    const at = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    return finding(source, at, 'schema', `${at.length ? at.join('.') + ': ' : ''}${issue.message}`);
  });
}

/**
 * A value matching no branch of a union (a question entry is a question or an include) is
 * reported by the branch it came closest to, with its own messages, not as "invalid input".
 */
function closestIssues(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): { path: PropertyKey[]; message: string }[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const closest = [...issue.errors].sort((a, b) => a.length - b.length)[0]!;
      return closestIssues(closest, path);
    }
    return [{ path, message: issue.message }];
  });
}

/**
 * Loads and checks every rule file in `dir`. Either the whole catalog is valid and returned,
 * or RuleSetLoadError lists every problem: the service never runs on a half-loaded rule set.
 */
export async function loadRuleCatalog(dir: string): Promise<RuleCatalog> {
  const findings: Finding[] = [];
  const pathways: ParsedFile<PathwayFile>[] = [];
  const modules: ParsedFile<ModuleFile>[] = [];
  const redFlagFiles: ParsedFile<RedFlagsFile>[] = [];
  const dispositionFiles: ParsedFile<DispositionsFile>[] = [];

  const files = await listRuleFiles(dir).catch((err: NodeJS.ErrnoException) => {
    throw new RuleSetLoadError([{ file: dir, line: 1, column: 1, severity: 'error', code: 'rules-dir', message: `cannot read rules directory: ${err.code ?? err.message}`, path: [] }]);
  });
  for (const file of files) {
    const { source, findings: syntax } = await parseSourceFile(file, path.relative(process.cwd(), file) || file);
    findings.push(...syntax);
    if (syntax.length) {
      continue;
    }
    const parsed = RuleFileSchema.safeParse(source.doc.toJS());
    if (!parsed.success) {
      findings.push(...schemaFindings(source, parsed.error));
      continue;
    }
    const content = parsed.data;
    if (content.kind === 'pathway') pathways.push({ source, content });
    else if (content.kind === 'module') modules.push({ source, content });
    else if (content.kind === 'dispositions') dispositionFiles.push({ source, content });
    else redFlagFiles.push({ source, content });
  }

  const missing = (code: string, message: string): Finding => ({ file: dir, line: 1, column: 1, severity: 'error', code, message, path: [] });
  if (redFlagFiles.length !== 1) {
    const where = redFlagFiles[1]?.source ?? undefined;
    findings.push(
      where
        ? finding(where, ['kind'], 'red-flags-file', 'there must be exactly one global_red_flags file; this is a second one')
        : missing('red-flags-file', 'no global_red_flags file: every pathway must be checked against the global red flags'),
    );
  }
  if (dispositionFiles.length !== 1) {
    const where = dispositionFiles[1]?.source;
    findings.push(
      where
        ? finding(where, ['kind'], 'dispositions-file', 'there must be exactly one dispositions catalogue; this is a second one')
        : missing('dispositions-file', 'no dispositions catalogue (kind: dispositions): every outcome is checked against it'),
    );
  }
  if (pathways.length === 0 && findings.length === 0) {
    findings.push(missing('no-pathways', 'no pathway files found'));
  }
  const redFlags = redFlagFiles[0];
  const dispositions = dispositionFiles[0];
  const catalogue = dispositions ? checkDispositions(dispositions, findings) : undefined;
  const outcomesChecked = (file: ParsedFile<{ outcomes: Record<string, Outcome> }>) => catalogue && findings.push(...checkOutcomeCodes(file, catalogue));
  if (redFlags) {
    findings.push(...checkRedFlags(redFlags));
    outcomesChecked(redFlags);
  }

  const moduleById = new Map<string, ParsedFile<ModuleFile>>();
  for (const m of modules) {
    const earlier = moduleById.get(m.content.id);
    if (earlier) findings.push(finding(m.source, ['id'], 'duplicate-id', `module id ${m.content.id} is already used by ${earlier.source.file}`));
    moduleById.set(m.content.id, m);
    outcomesChecked(m);
    if (redFlags) findings.push(...checkModule(m, redFlags.content));
  }

  const seenIds = new Map<string, string>();
  for (const p of pathways) {
    const earlier = seenIds.get(p.content.id) ?? (moduleById.has(p.content.id) ? moduleById.get(p.content.id)!.source.file : undefined);
    if (earlier) {
      findings.push(finding(p.source, ['id'], 'duplicate-id', `pathway id ${p.content.id} is already used by ${earlier}`));
    }
    seenIds.set(p.content.id, p.source.file);
    outcomesChecked(p);
    if (redFlags) {
      findings.push(...checkPathway(p, redFlags.content, moduleById));
    }
  }
  findings.push(...checkTopics(pathways, dir));

  const errors = findings.filter((f) => f.severity === 'error');
  if (errors.length || !redFlags || !dispositions) {
    throw new RuleSetLoadError(errors);
  }
  const versions = new Map<string, PathwayVersion>();
  for (const p of pathways) {
    const included = includedModuleIds(p.content).map((id) => moduleById.get(id)!.content);
    versions.set(p.content.id, preparePathwayVersion({ pathway: p.content, redFlags: redFlags.content, ...(included.length ? { modules: included } : {}) }));
  }
  return { dir, redFlags, pathways, modules, dispositions, versions };
}

/** The catalogue's codes, after checking each entry says kind and time frame consistently. */
function checkDispositions(file: ParsedFile<DispositionsFile>, out: Finding[]): Map<string, DispositionsFile['dispositions'][number]> {
  const byCode = new Map<string, DispositionsFile['dispositions'][number]>();
  file.content.dispositions.forEach((d, i) => {
    const at = ['dispositions', i];
    if (byCode.has(d.code)) out.push(finding(file.source, [...at, 'code'], 'duplicate-id', `disposition ${d.code} is listed twice`));
    if (d.kind === 'self_care' && d.within) out.push(finding(file.source, [...at, 'within'], 'schema', `${d.code}: a self_care disposition has no time frame`));
    if (d.kind !== 'self_care' && !d.within) out.push(finding(file.source, [...at, 'within'], 'schema', `${d.code}: a ${d.kind} disposition needs a time frame (within)`));
    byCode.set(d.code, d);
  });
  return byCode;
}

/** Every outcome's disposition is a catalogue code, with the catalogue's kind and time frame. */
function checkOutcomeCodes(file: ParsedFile<{ outcomes: Record<string, Outcome> }>, catalogue: Map<string, DispositionsFile['dispositions'][number]>): Finding[] {
  const out: Finding[] = [];
  for (const [id, outcome] of Object.entries(file.content.outcomes)) {
    const at = ['outcomes', id];
    const listed = catalogue.get(outcome.disposition);
    if (!listed) {
      out.push(finding(file.source, [...at, 'disposition'], 'unknown-disposition', `outcome ${id}: disposition ${outcome.disposition} is not in the dispositions catalogue`));
      continue;
    }
    if (listed.kind !== outcome.kind) {
      out.push(finding(file.source, [...at, 'kind'], 'disposition-mismatch', `outcome ${id}: ${outcome.disposition} is ${listed.kind} in the catalogue, not ${outcome.kind}`));
    }
    const seconds = (d: string | undefined) => (d === undefined ? undefined : durationSeconds(d));
    if (listed.kind === outcome.kind && seconds(listed.within) !== seconds(outcome.within)) {
      out.push(
        finding(file.source, [...at, 'within'], 'disposition-mismatch', `outcome ${id}: ${outcome.disposition} is within ${listed.within ?? '(none)'} in the catalogue, not ${outcome.within ?? '(none)'}`),
      );
    }
  }
  return out;
}

/**
 * Topics: the variants of one topic share its title and serve ages and sexes that do not
 * overlap, so a person is never offered two; exactly one pathway is the catch-all, for everyone.
 */
function checkTopics(pathways: ParsedFile<PathwayFile>[], dir: string): Finding[] {
  const out: Finding[] = [];
  const byTopic = new Map<string, ParsedFile<PathwayFile>[]>();
  for (const p of pathways) byTopic.set(topicOf(p.content), [...(byTopic.get(topicOf(p.content)) ?? []), p]);
  const ids = new Map(pathways.map((p) => [p.content.id, p]));
  for (const [topic, variants] of byTopic) {
    const other = ids.get(topic);
    if (other && topicOf(other.content) !== topic) {
      out.push(finding(variants[0]!.source, ['topic'], 'duplicate-id', `topic ${topic} is also the id of pathway ${topic}, which serves topic ${topicOf(other.content)}`));
    }
    variants.forEach((p, i) => {
      const first = variants[0]!;
      if (i > 0 && p.content.title !== first.content.title) {
        out.push(finding(p.source, ['title'], 'topic-title', `variants of topic ${topic} share its title: ${first.source.file} calls it "${first.content.title}"`));
      }
      for (const q of variants.slice(0, i)) {
        const bands = p.content.applies.ageBands.filter((b) => q.content.applies.ageBands.includes(b));
        const sexes = p.content.applies.sexes.filter((s) => q.content.applies.sexes.includes(s));
        if (bands.length && sexes.length) {
          out.push(
            finding(
              p.source,
              ['applies', 'ageBands'],
              'topic-overlap',
              `topic ${topic}: ${p.content.id} and ${q.content.id} both serve ${bands.join(', ')} (${sexes.join(', ')}); a person must get one variant`,
            ),
          );
        }
      }
    });
  }
  const catchAll = pathways.filter((p) => p.content.catchAll);
  if (catchAll.length === 0 && pathways.length > 0) {
    out.push({ file: dir, line: 1, column: 1, severity: 'error', code: 'catch-all', message: 'no pathway has catchAll: true: someone whose symptom no topic covers would have nowhere to go', path: [] });
  }
  for (const p of catchAll.slice(1)) {
    out.push(finding(p.source, ['catchAll'], 'catch-all', `only one pathway may be the catch-all; ${catchAll[0]!.source.file} already is`));
  }
  for (const p of catchAll) {
    const { ageBands, sexes } = p.content.applies;
    if (AGE_BANDS.some((b) => !ageBands.includes(b)) || SEXES.some((s) => !sexes.includes(s))) {
      out.push(finding(p.source, ['applies'], 'catch-all', `the catch-all serves everyone: every age band (${AGE_BANDS.join(', ')}) and both sexes`));
    }
  }
  return out;
}

type FactSpec = { kind: 'question'; question: Question; order: number } | { kind: 'ageYears' } | { kind: 'sex' };

function patientFacts(): Map<string, FactSpec> {
  return new Map<string, FactSpec>([
    ['ageYears', { kind: 'ageYears' }],
    ['sex', { kind: 'sex' }],
  ]);
}

function checkRedFlags(file: ParsedFile<RedFlagsFile>): Finding[] {
  const facts = patientFacts();
  const out: Finding[] = [];
  checkQuestions(file.source, file.content.questions, facts, 0, out);
  checkRules(file.source, file.content.rules, file.content.outcomes, facts, new Set(), out);
  return out;
}

function redFlagFacts(redFlags: RedFlagsFile): Map<string, FactSpec> {
  const facts = patientFacts();
  redFlags.questions.forEach((question, order) => facts.set(question.id, { kind: 'question', question, order }));
  return facts;
}

/** A module on its own: its conditions name its own earlier questions, the red flags' and the patient's. */
function checkModule(file: ParsedFile<ModuleFile>, redFlags: RedFlagsFile): Finding[] {
  const out: Finding[] = [];
  const facts = redFlagFacts(redFlags);
  checkQuestions(file.source, file.content.questions, facts, redFlags.questions.length, out);
  checkRules(file.source, file.content.rules, file.content.outcomes, facts, new Set(redFlags.rules.map((r) => r.id)), out);
  return out;
}

/** Cross-checks a pathway against itself, the modules it includes and the red flags it will run with. */
function checkPathway(file: ParsedFile<PathwayFile>, redFlags: RedFlagsFile, modules: ReadonlyMap<string, ParsedFile<ModuleFile>>): Finding[] {
  const { source, content } = file;
  const out: Finding[] = [];
  const facts = redFlagFacts(redFlags);
  let order = redFlags.questions.length;
  const included = new Set<string>();
  content.questions.forEach((entry, index) => {
    if (!isInclude(entry)) {
      checkQuestions(source, [entry], facts, order++, out, index);
      return;
    }
    const at = ['questions', index, 'include'];
    const module = modules.get(entry.include);
    if (!module) {
      out.push(finding(source, at, 'unknown-module', `include names module ${entry.include}, which is not a kind: module file`));
      return;
    }
    if (included.has(entry.include)) {
      out.push(finding(source, at, 'duplicate-id', `module ${entry.include} is included twice`));
      return;
    }
    included.add(entry.include);
    for (const question of module.content.questions) {
      if (facts.has(question.id)) {
        out.push(finding(source, at, 'duplicate-id', `module ${entry.include} asks ${question.id}, a question id this pathway already uses`));
      }
      facts.set(question.id, { kind: 'question', question, order: order++ });
    }
  });
  const taken = new Set(redFlags.rules.map((r) => r.id));
  for (const id of included) {
    for (const rule of modules.get(id)!.content.rules) {
      const at = ['questions', content.questions.findIndex((e) => isInclude(e) && e.include === id), 'include'];
      if (taken.has(rule.id)) out.push(finding(source, at, 'duplicate-id', `module ${id} has rule ${rule.id}, a rule id already used with this pathway`));
      taken.add(rule.id);
    }
  }
  checkRules(source, content.rules, content.outcomes, facts, taken, out);

  const fallback = content.outcomes[content.fallback];
  if (!fallback) {
    out.push(finding(source, ['fallback'], 'unknown-outcome', `fallback names outcome ${content.fallback}, which is not in outcomes`));
  } else if (fallback.kind === 'self_care') {
    out.push(finding(source, ['fallback'], 'unsafe-fallback', 'the fallback must be conservative (callback or escalate), never self_care'));
  }
  return out;
}

function checkQuestions(source: SourceFile, questions: Question[], facts: Map<string, FactSpec>, firstOrder: number, out: Finding[], firstIndex = 0): void {
  questions.forEach((question, i) => {
    const index = firstIndex + i;
    const at = ['questions', index];
    if ((PATIENT_FACTS as readonly string[]).includes(question.id)) {
      out.push(finding(source, [...at, 'id'], 'reserved-id', `question id ${question.id} is reserved for the patient's details`));
    } else if (facts.has(question.id)) {
      out.push(finding(source, [...at, 'id'], 'duplicate-id', `question id ${question.id} is already used (question ids are shared with the global red flags)`));
    }
    if ('options' in question) {
      const values = new Set<string>();
      question.options.forEach((option, i) => {
        if (values.has(option.value)) {
          out.push(finding(source, [...at, 'options', i, 'value'], 'duplicate-id', `option ${option.value} appears twice in question ${question.id}`));
        }
        values.add(option.value);
      });
    }
    if (question.type === 'single_choice' && question.unsure) {
      if (!question.options.some((o) => o.value === question.unsure!.countsAs)) {
        out.push(finding(source, [...at, 'unsure', 'countsAs'], 'bad-unsure', `unsure counts as ${question.unsure.countsAs}, which is not an option of ${question.id}`));
      }
      if (question.options.some((o) => o.value === UNSURE)) {
        out.push(finding(source, [...at, 'options'], 'bad-unsure', `an option named "${UNSURE}" cannot be told from the "${UNSURE}" answer: rename it or drop unsure`));
      }
    }
    if (question.askWhen) {
      // Only earlier questions may decide whether this one is asked: no cycles, and the
      // order a person sees is the file order.
      checkCondition(source, question.askWhen, [...at, 'askWhen'], facts, out);
    }
    facts.set(question.id, { kind: 'question', question, order: firstOrder + i });
  });
}

function checkRules(
  source: SourceFile,
  rules: { id: string; outcome: string; conditions: TopLevelCondition }[],
  outcomes: Record<string, unknown>,
  facts: Map<string, FactSpec>,
  taken: Set<string>,
  out: Finding[],
): void {
  const ids = new Set(taken);
  rules.forEach((rule, index) => {
    const at = ['rules', index];
    if (ids.has(rule.id)) {
      out.push(finding(source, [...at, 'id'], 'duplicate-id', `rule id ${rule.id} is already used${taken.has(rule.id) ? ' by a global red flag' : ''}`));
    }
    ids.add(rule.id);
    if (!(rule.outcome in outcomes)) {
      out.push(finding(source, [...at, 'outcome'], 'unknown-outcome', `rule ${rule.id} names outcome ${rule.outcome}, which is not in outcomes`));
    }
    checkCondition(source, rule.conditions, [...at, 'conditions'], facts, out);
  });
}

function checkCondition(source: SourceFile, node: ConditionNode, at: (string | number)[], facts: Map<string, FactSpec>, out: Finding[]): void {
  if ('all' in node) {
    node.all.forEach((child, i) => checkCondition(source, child, [...at, 'all', i], facts, out));
    return;
  }
  if ('any' in node) {
    node.any.forEach((child, i) => checkCondition(source, child, [...at, 'any', i], facts, out));
    return;
  }
  const spec = facts.get(node.fact);
  if (!spec) {
    out.push(finding(source, [...at, 'fact'], 'unknown-question', `condition names ${node.fact}, which is not an earlier question or a patient fact (ageYears, sex)`));
    return;
  }
  const problem = operandProblem(spec, node.operator, node.value);
  if (problem) {
    out.push(finding(source, [...at, problem.where], 'bad-condition', `${node.fact} ${node.operator}: ${problem.message}`));
  }
}

function operandProblem(spec: FactSpec, operator: string, value: unknown): { where: 'operator' | 'value'; message: string } | undefined {
  const allowed = (ops: string[], check: (v: unknown) => string | undefined) => {
    if (!ops.includes(operator)) {
      return { where: 'operator' as const, message: `operator not allowed here; use one of ${ops.join(', ')}` };
    }
    const message = check(value);
    return message ? { where: 'value' as const, message } : undefined;
  };
  const oneOf = (choices: readonly string[]) => (v: unknown) => (typeof v === 'string' && choices.includes(v) ? undefined : `${JSON.stringify(v)} is not one of ${choices.join(', ')}`);
  const listOf = (choices: readonly string[]) => (v: unknown) => (Array.isArray(v) && v.length > 0 ? v.map(oneOf(choices)).find(Boolean) : 'expects a non-empty list');
  const number = (v: unknown) => (typeof v === 'number' ? undefined : `expects a number, not ${JSON.stringify(v)}`);
  const numberOps = ['equal', 'notEqual', 'lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive'];

  if (spec.kind === 'ageYears') {
    return allowed(numberOps, number);
  }
  if (spec.kind === 'sex') {
    return ['in', 'notIn'].includes(operator) ? allowed(['in', 'notIn'], listOf(SEXES)) : allowed(['equal', 'notEqual', 'in', 'notIn'], oneOf(SEXES));
  }
  const q = spec.question;
  switch (q.type) {
    case 'yes_no':
      return allowed(['equal', 'notEqual'], (v) => (typeof v === 'boolean' ? undefined : `a yes/no question is compared with true or false, not ${JSON.stringify(v)}`));
    case 'single_choice': {
      const values = q.options.map((o) => o.value);
      return ['in', 'notIn'].includes(operator) ? allowed(['in', 'notIn'], listOf(values)) : allowed(['equal', 'notEqual', 'in', 'notIn'], oneOf(values));
    }
    case 'multiple_choice':
      return allowed(['contains', 'doesNotContain'], oneOf(q.options.map((o) => o.value)));
    case 'number':
      return allowed(numberOps, (v) => number(v) ?? (typeof v === 'number' && (v < q.min || v > q.max) ? `${v} is outside the question's bounds ${q.min}-${q.max}` : undefined));
    case 'duration':
      return allowed(['lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive'], (v) => {
        if (typeof v !== 'string' || !ISO_DURATION.test(v)) return `a duration is compared with an ISO 8601 duration such as PT6H, P3D or P2W, not ${JSON.stringify(v)}`;
        return q.max && durationSeconds(v) > durationSeconds(q.max) ? `${v} is beyond the question's max ${q.max}` : undefined;
      });
  }
}
