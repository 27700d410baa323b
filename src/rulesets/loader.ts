import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import {
  PATIENT_FACTS,
  RuleFileSchema,
  SEXES,
  type ConditionNode,
  type PathwayFile,
  type Question,
  type RedFlagsFile,
  type TopLevelCondition,
} from './schema.js';
import { preparePathwayVersion, type PathwayVersion } from './version.js';

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
  versions: ReadonlyMap<string, PathwayVersion>;
}

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

export function finding(
  source: SourceFile,
  at: (string | number)[],
  code: string,
  message: string,
  severity: Severity = 'error',
): Finding {
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
  return error.issues.map((issue) => {
    const at = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    return finding(source, at, 'schema', `${at.length ? at.join('.') + ': ' : ''}${issue.message}`);
  });
}

/**
 * Loads and checks every rule file in `dir`. Either the whole catalog is valid and returned,
 * or RuleSetLoadError lists every problem: the service never runs on a half-loaded rule set.
 */
export async function loadRuleCatalog(dir: string): Promise<RuleCatalog> {
  const findings: Finding[] = [];
  const pathways: ParsedFile<PathwayFile>[] = [];
  const redFlagFiles: ParsedFile<RedFlagsFile>[] = [];

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
    if (parsed.data.kind === 'pathway') {
      pathways.push({ source, content: parsed.data });
    } else {
      redFlagFiles.push({ source, content: parsed.data });
    }
  }

  if (redFlagFiles.length !== 1) {
    const where = redFlagFiles[1]?.source ?? undefined;
    findings.push(
      where
        ? finding(where, ['kind'], 'red-flags-file', 'there must be exactly one global_red_flags file; this is a second one')
        : { file: dir, line: 1, column: 1, severity: 'error', code: 'red-flags-file', message: 'no global_red_flags file: every pathway must be checked against the global red flags', path: [] },
    );
  }
  if (pathways.length === 0 && findings.length === 0) {
    findings.push({ file: dir, line: 1, column: 1, severity: 'error', code: 'no-pathways', message: 'no pathway files found', path: [] });
  }
  const redFlags = redFlagFiles[0];
  if (redFlags) {
    findings.push(...checkRedFlags(redFlags));
  }
  const seenIds = new Map<string, string>();
  for (const p of pathways) {
    const earlier = seenIds.get(p.content.id);
    if (earlier) {
      findings.push(finding(p.source, ['id'], 'duplicate-id', `pathway id ${p.content.id} is already used by ${earlier}`));
    }
    seenIds.set(p.content.id, p.source.file);
    if (redFlags) {
      findings.push(...checkPathway(p, redFlags.content));
    }
  }

  const errors = findings.filter((f) => f.severity === 'error');
  if (errors.length || !redFlags) {
    throw new RuleSetLoadError(errors);
  }
  const versions = new Map<string, PathwayVersion>();
  for (const p of pathways) {
    versions.set(p.content.id, preparePathwayVersion({ pathway: p.content, redFlags: redFlags.content }));
  }
  return { dir, redFlags, pathways, versions };
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

/** Cross-checks a pathway against itself and the red flags it will run with. */
function checkPathway(file: ParsedFile<PathwayFile>, redFlags: RedFlagsFile): Finding[] {
  const { source, content } = file;
  const out: Finding[] = [];
  const facts = patientFacts();
  redFlags.questions.forEach((question, order) => facts.set(question.id, { kind: 'question', question, order }));
  checkQuestions(source, content.questions, facts, redFlags.questions.length, out);
  checkRules(source, content.rules, content.outcomes, facts, new Set(redFlags.rules.map((r) => r.id)), out);

  const fallback = content.outcomes[content.fallback];
  if (!fallback) {
    out.push(finding(source, ['fallback'], 'unknown-outcome', `fallback names outcome ${content.fallback}, which is not in outcomes`));
  } else if (fallback.kind === 'self_care') {
    out.push(finding(source, ['fallback'], 'unsafe-fallback', 'the fallback must be conservative (callback or escalate), never self_care'));
  }
  if (content.applies.minAgeYears > content.applies.maxAgeYears) {
    out.push(finding(source, ['applies', 'maxAgeYears'], 'schema', 'maxAgeYears is below minAgeYears'));
  }
  return out;
}

function checkQuestions(source: SourceFile, questions: Question[], facts: Map<string, FactSpec>, firstOrder: number, out: Finding[]): void {
  questions.forEach((question, index) => {
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
    if (question.askWhen) {
      // Only earlier questions may decide whether this one is asked: no cycles, and the
      // order a person sees is the file order.
      checkCondition(source, question.askWhen, [...at, 'askWhen'], facts, out);
    }
    facts.set(question.id, { kind: 'question', question, order: firstOrder + index });
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
  const oneOf = (choices: readonly string[]) => (v: unknown) =>
    typeof v === 'string' && choices.includes(v) ? undefined : `${JSON.stringify(v)} is not one of ${choices.join(', ')}`;
  const listOf = (choices: readonly string[]) => (v: unknown) =>
    Array.isArray(v) && v.length > 0 ? v.map(oneOf(choices)).find(Boolean) : 'expects a non-empty list';
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
  }
}
