import { canonicalJson } from '../canonical.js';
import { finding, type Finding, type ParsedFile, type RuleCatalog, type SourceFile } from '../rulesets/loader.js';
import { durationHours } from '../rulesets/duration.js';
import { isInclude, priorityBand, SEXES, type ConditionNode, type ModuleFile, type Outcome, type PathwayFile, type Question, type RedFlagsFile, type Rule } from '../rulesets/schema.js';
import { engineCondition, enginePriority } from '../rulesets/version.js';

/**
 * Semantic checks beyond what loading refuses. Conditions range over small finite domains
 * (choices, yes/no) and numbers whose only interesting points are the constants rules compare
 * them with, so each check enumerates every relevant answer combination and decides exactly:
 * can this rule ever fire, can this question ever be asked, does another rule always win first.
 */

type Value = boolean | string | number | string[] | undefined;
type Assignment = Map<string, Value>;

interface Subject {
  source: SourceFile;
  questions: { question: Question; source: SourceFile; index: number }[];
  rules: { rule: Rule; source: SourceFile; index: number; rank: number; global: boolean; outcome: Outcome | undefined }[];
}

/** Past this many combinations a check is skipped rather than slowing the linter down. */
const MAX_COMBINATIONS = 250_000;

export function lintCatalog(catalog: RuleCatalog, today = new Date()): Finding[] {
  const findings: Finding[] = [];
  const redFlags = catalog.redFlags;
  findings.push(...reviewDate(redFlags, today));
  const modules = new Map(catalog.modules.map((m) => [m.content.id, m]));
  const included = new Set(catalog.pathways.flatMap((p) => p.content.questions.filter(isInclude).map((e) => e.include)));
  for (const module of catalog.modules) {
    findings.push(...reviewDate(module, today));
    if (!included.has(module.content.id)) {
      findings.push(finding(module.source, ['id'], 'unused-module', `module ${module.content.id} is not included by any pathway: nobody is asked its questions`, 'warning'));
    }
  }
  for (const file of [redFlags, ...catalog.modules, ...catalog.pathways]) findings.push(...answerIfUnsure(file));
  for (const pathway of catalog.pathways) {
    findings.push(...reviewDate(pathway, today));
    findings.push(...lintPathway(pathway, redFlags, modules));
  }
  // Red-flag findings would repeat once per pathway; report each once.
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.file}:${f.line}:${f.column}:${f.code}:${f.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

/** Help that tells people to answer yes when they are not sure, e.g. "If you are not sure, answer yes". */
const YES_IF_UNSURE = /\b(?:not sure|unsure|in doubt|don'?t know|do not know)\b[^.]*\b(?:answer|say|choose|pick|select|tick)\s+["']?yes\b/i;

/**
 * People asked to answer "yes" when unsure overstate what they know; the question should offer
 * "I'm not sure" (`unsure`) and say how it counts, so the trace shows what they really said.
 */
function answerIfUnsure(file: ParsedFile<{ questions: readonly (Question | { include: string })[] }>): Finding[] {
  return file.content.questions.flatMap((q, index) =>
    'id' in q && YES_IF_UNSURE.test(`${q.text} ${q.help ?? ''}`)
      ? [
          finding(
            file.source,
            ['questions', index, q.help && YES_IF_UNSURE.test(q.help) ? 'help' : 'text'],
            'yes-if-unsure',
            `question ${q.id} tells people to answer yes when unsure: offer "I'm not sure" instead (unsure: { countsAs: ${q.type === 'single_choice' ? '<option>' : 'true'} }) and drop the instruction`,
            'warning',
          ),
        ]
      : [],
  );
}

function reviewDate(file: ParsedFile<PathwayFile | RedFlagsFile | ModuleFile>, today: Date): Finding[] {
  return file.content.reviewBy < today.toISOString().slice(0, 10)
    ? [finding(file.source, ['reviewBy'], 'review-overdue', `review-by date ${file.content.reviewBy} has passed: the clinical content needs reviewing`, 'warning')]
    : [];
}

/**
 * A pathway as it runs: the red flags, its own questions and rules, and those of the modules it
 * includes (each finding points into the file that says it). Durations are compared in hours,
 * as the engine compares them.
 */
function subjectOf(pathway: ParsedFile<PathwayFile>, redFlags: ParsedFile<RedFlagsFile>, modules: ReadonlyMap<string, ParsedFile<ModuleFile>>): Subject {
  const rf = redFlags.content;
  const p = pathway.content;
  const included = [...new Set(p.questions.filter(isInclude).map((e) => e.include))].flatMap((id) => modules.get(id) ?? []);
  const questions: Subject['questions'] = [
    ...rf.questions.map((question, index) => ({ question, source: redFlags.source, index })),
    ...p.questions.flatMap((entry, index) =>
      isInclude(entry)
        ? (modules.get(entry.include)?.content.questions ?? []).map((question, i) => ({ question, source: modules.get(entry.include)!.source, index: i }))
        : [{ question: entry, source: pathway.source, index }],
    ),
  ];
  const durations = new Set(questions.filter((q) => q.question.type === 'duration').map((q) => q.question.id));
  const forEngine = <T extends ConditionNode>(c: T): T => (durations.size ? engineCondition(c, (f) => durations.has(f)) : c);
  const withRule = (rule: Rule): Rule => ({ ...rule, conditions: forEngine(rule.conditions) });
  return {
    source: pathway.source,
    questions: questions.map((q) => (q.question.askWhen ? { ...q, question: { ...q.question, askWhen: forEngine(q.question.askWhen) } } : q)),
    // Same order as decisions: red flags above pathway rules, then priority, then file order.
    rules: [
      ...rf.rules.map((rule, index) => ({ rule: withRule(rule), source: redFlags.source, index, rank: enginePriority(rule, 'global_red_flag'), global: true, outcome: rf.outcomes[rule.outcome] })),
      ...p.rules.map((rule, index) => ({ rule: withRule(rule), source: pathway.source, index, rank: enginePriority(rule, 'pathway'), global: false, outcome: p.outcomes[rule.outcome] })),
      ...included.flatMap((m) =>
        m.content.rules.map((rule, index) => ({ rule: withRule(rule), source: m.source, index, rank: enginePriority(rule, 'module'), global: false, outcome: m.content.outcomes[rule.outcome] })),
      ),
    ].sort((a, b) => b.rank - a.rank),
  };
}

function lintPathway(pathway: ParsedFile<PathwayFile>, redFlags: ParsedFile<RedFlagsFile>, modules: ReadonlyMap<string, ParsedFile<ModuleFile>>): Finding[] {
  const out: Finding[] = [];
  const subject = subjectOf(pathway, redFlags, modules);
  const questions = new Map(subject.questions.map((q) => [q.question.id, q.question]));
  const domains = new DomainBuilder(questions);
  for (const { rule } of subject.rules) domains.observe(rule.conditions);
  for (const { question } of subject.questions) if (question.askWhen) domains.observe(question.askWhen);

  // Questions no rule or askWhen ever looks at.
  const used = new Set<string>();
  for (const { rule } of subject.rules) factsOf(rule.conditions).forEach((f) => used.add(f));
  for (const { question } of subject.questions) if (question.askWhen) factsOf(question.askWhen).forEach((f) => used.add(f));
  for (const { question, source, index } of subject.questions) {
    if (!used.has(question.id)) {
      out.push(finding(source, ['questions', index, 'id'], 'unused-question', `question ${question.id} is asked but no rule or askWhen uses its answer`, 'warning'));
    }
  }

  out.push(...duplicateText(subject));

  // Questions whose askWhen can never hold.
  for (const { question, source, index } of subject.questions) {
    if (question.askWhen && enumerate(domains, questions, [question.askWhen], (a) => holds(question.askWhen!, a)) === 'none') {
      out.push(finding(source, ['questions', index, 'askWhen'], 'never-asked', `question ${question.id} can never be asked: its askWhen can never hold`));
    }
  }

  // Rules that can never fire, on their own or given the askWhen of the questions they need.
  const alive = new Set<string>();
  for (const { rule, source, index } of subject.rules) {
    const verdict = enumerate(domains, questions, [rule.conditions], (a) => holds(rule.conditions, a));
    if (verdict === 'none') {
      out.push(finding(source, ['rules', index, 'conditions'], 'never-fires', `rule ${rule.id} can never fire: its conditions contradict each other or the askWhen of the questions they need`));
    } else {
      alive.add(rule.id);
    }
  }

  // Priority means urgency: a rule outside its outcome's band decides before (or after) rules
  // for more (or less) urgent outcomes.
  for (const { rule, source, index, outcome } of subject.rules) {
    const band = outcome && priorityBand(outcome);
    if (band && (rule.priority < band.min || rule.priority > band.max)) {
      out.push(
        finding(
          source,
          ['rules', index, 'priority'],
          'priority-band',
          `rule ${rule.id} has priority ${rule.priority}, outside the ${band.name} band (${band.min}-${band.max}) of its outcome ${rule.outcome}`,
          'warning',
        ),
      );
    }
  }

  // Conditions that only wait for a question to be asked: true whatever the answer, false only
  // while it is unanswered. A rule already waits until every rule ranked above it is settled.
  for (const { rule, source, index } of subject.rules) {
    if (!('all' in rule.conditions) || rule.conditions.all.length < 2) continue;
    rule.conditions.all.forEach((part, p) => {
      const waitsFor = [...new Set(factsOf(part))].filter((f) => questions.has(f));
      if (waitsFor.length > 0 && enumerate(domains, questions, [part], (a) => !holds(part, a), true) === 'none') {
        out.push(
          finding(
            source,
            ['rules', index, 'conditions', 'all', p],
            'waits-for-answer',
            `rule ${rule.id}: this condition holds whatever the answer to ${waitsFor.join(' and ')}, so it only waits for it to be asked; every rule already waits for the rules ranked above it: remove it`,
            'warning',
          ),
        );
      }
    });
  }

  const closures = new Map<ConditionNode, Set<string>>();
  const closure = (node: ConditionNode): Set<string> => {
    let facts = closures.get(node);
    if (!facts) closures.set(node, (facts = factClosure(questions, [node])));
    return facts;
  };
  const unfired = new Map<Rule, boolean>();
  const canStayUnfired = (rule: Rule): boolean => {
    let can = unfired.get(rule);
    if (can === undefined) unfired.set(rule, (can = enumerate(domains, questions, [rule.conditions], (a) => !holds(rule.conditions, a)) !== 'none'));
    return can;
  };

  // Identical conditions with different outcomes; and rules always beaten by a higher one.
  for (let i = 0; i < subject.rules.length; i++) {
    const lower = subject.rules[i]!;
    for (let j = 0; j < i; j++) {
      const higher = subject.rules[j]!;
      if (higher.global && lower.global) {
        continue;
      }
      if (canonicalJson(higher.rule.conditions) === canonicalJson(lower.rule.conditions) && higher.rule.outcome !== lower.rule.outcome) {
        out.push(finding(lower.source, ['rules', lower.index, 'conditions'], 'conflicting-rules', `rules ${higher.rule.id} and ${lower.rule.id} have identical conditions but different outcomes`));
        continue;
      }
      if (!alive.has(lower.rule.id) || !alive.has(higher.rule.id)) {
        continue;
      }
      // Shadowed: no answers make the lower rule fire without the higher one firing too. When the
      // two depend on no fact in common (askWhen included) they vary independently, so the lower
      // one escapes whenever the higher one can stay unfired: no need to try their product.
      if (disjoint(closure(lower.rule.conditions), closure(higher.rule.conditions)) && canStayUnfired(higher.rule)) {
        continue;
      }
      const escape = enumerate(domains, questions, [lower.rule.conditions, higher.rule.conditions], (a) => holds(lower.rule.conditions, a) && !holds(higher.rule.conditions, a));
      if (escape === 'none') {
        out.push(finding(lower.source, ['rules', lower.index, 'conditions'], 'shadowed-rule', `rule ${lower.rule.id} can never decide: ${higher.rule.id} (higher priority) fires whenever it does`));
        break;
      }
    }
  }
  return out;
}

/** Question text as a patient reads it: case and spacing make no difference. */
const sameWords = (text: string): string => text.replace(/\s+/g, ' ').trim().toLowerCase();

/**
 * Two questions of one pathway as it runs (red flags, its own, its modules') worded the same: the
 * patient sees what looks like the same question twice, and a trace or call handler cannot tell
 * the answers apart by their text. Points at the later one.
 */
function duplicateText(subject: Subject): Finding[] {
  const first = new Map<string, Subject['questions'][number]>();
  const out: Finding[] = [];
  for (const later of subject.questions) {
    const words = sameWords(later.question.text);
    const earlier = first.get(words);
    if (!earlier) {
      first.set(words, later);
    } else if (earlier.question.id !== later.question.id) {
      const where = earlier.source.file === later.source.file ? '' : ` (${earlier.source.file})`;
      out.push(
        finding(
          later.source,
          ['questions', later.index, 'text'],
          'duplicate-question-text',
          `question ${later.question.id} has the same text as question ${earlier.question.id}${where}: the patient sees the same question twice; say what each one asks about`,
          'warning',
        ),
      );
    }
  }
  return out;
}

function factsOf(node: ConditionNode): string[] {
  if ('all' in node) return node.all.flatMap(factsOf);
  if ('any' in node) return node.any.flatMap(factsOf);
  return [node.fact];
}

/** Condition semantics exactly as the engine applies them: an unanswered fact never matches. */
export function holds(node: ConditionNode, a: Assignment): boolean {
  if ('all' in node) return node.all.every((c) => holds(c, a));
  if ('any' in node) return node.any.some((c) => holds(c, a));
  const v = a.get(node.fact);
  if (v === undefined) return false;
  const x = node.value;
  switch (node.operator) {
    case 'equal':
      return v === x;
    case 'notEqual':
      return v !== x;
    case 'in':
      return Array.isArray(x) && x.includes(v as string);
    case 'notIn':
      return Array.isArray(x) && !x.includes(v as string);
    case 'contains':
      return Array.isArray(v) && v.includes(x as string);
    case 'doesNotContain':
      return Array.isArray(v) && !v.includes(x as string);
    case 'lessThan':
      return typeof v === 'number' && v < (x as number);
    case 'lessThanInclusive':
      return typeof v === 'number' && v <= (x as number);
    case 'greaterThan':
      return typeof v === 'number' && v > (x as number);
    case 'greaterThanInclusive':
      return typeof v === 'number' && v >= (x as number);
  }
}

/** The values worth trying for each fact: every option, and numbers around each constant. */
class DomainBuilder {
  private readonly constants = new Map<string, Set<unknown>>();

  constructor(private readonly questions: Map<string, Question>) {}

  observe(node: ConditionNode): void {
    if ('all' in node) return node.all.forEach((c) => this.observe(c));
    if ('any' in node) return node.any.forEach((c) => this.observe(c));
    const set = this.constants.get(node.fact) ?? new Set();
    [node.value].flat().forEach((v) => set.add(v));
    this.constants.set(node.fact, set);
  }

  private readonly domains = new Map<string, Value[]>();

  /** Built once per fact: a multiple-choice domain is every subset of its named options. */
  domain(fact: string): Value[] {
    let values = this.domains.get(fact);
    if (!values) this.domains.set(fact, (values = this.build(fact)));
    return values;
  }

  private build(fact: string): Value[] {
    const constants = [...(this.constants.get(fact) ?? [])];
    if (fact === 'sex') return [...SEXES];
    if (fact === 'ageYears') return numberPoints(constants as number[], 0, 130, true);
    const q = this.questions.get(fact);
    if (!q) return [undefined];
    switch (q.type) {
      case 'yes_no':
        return [undefined, true, false];
      case 'single_choice':
        return [undefined, ...q.options.map((o) => o.value)];
      case 'number':
        return [undefined, ...numberPoints(constants as number[], q.min, q.max, q.integer === true)];
      case 'duration':
        // Hours, as rules' durations reach the engine; a year stands for "longer than any rule asks".
        return [undefined, ...numberPoints(constants as number[], 0, q.max ? durationHours(q.max) : 24 * 366, false)];
      case 'multiple_choice': {
        // Only options some condition names can change a result; one other option stands for the rest.
        const named = q.options.filter((o) => constants.includes(o.value));
        const other = q.options.find((o) => !constants.includes(o.value) && !o.exclusive);
        const pool = [...named.filter((o) => !o.exclusive).map((o) => o.value), ...(other ? [other.value] : [])];
        const subsets: Value[] = [undefined];
        for (let mask = 1; mask < 1 << pool.length; mask++) subsets.push(pool.filter((_, i) => mask & (1 << i)));
        for (const o of q.options.filter((o) => o.exclusive)) subsets.push([o.value]);
        return subsets;
      }
    }
  }
}

function numberPoints(constants: number[], min: number, max: number, integer: boolean): number[] {
  const step = integer ? 1 : 0.5;
  const points = new Set<number>([min, max]);
  for (const c of constants) for (const p of [c - step, c, c + step]) if (p >= min && p <= max) points.add(p);
  return [...points].sort((a, b) => a - b);
}

/** The facts the conditions depend on, and the askWhen facts of those questions, transitively. */
function factClosure(questions: Map<string, Question>, roots: ConditionNode[]): Set<string> {
  const facts = new Set<string>();
  const visit = (node: ConditionNode): void =>
    factsOf(node).forEach((f) => {
      if (facts.has(f)) return;
      facts.add(f);
      const askWhen = questions.get(f)?.askWhen;
      if (askWhen) visit(askWhen);
    });
  roots.forEach(visit);
  return facts;
}

const disjoint = (a: Set<string>, b: Set<string>): boolean => ![...a].some((f) => b.has(f));

/**
 * Tries every combination of the facts the conditions depend on (and the askWhen facts of those
 * questions, transitively). An answer only counts where its question's askWhen holds, since
 * answers to questions that no longer apply are dropped before rules run. `complete`: only
 * combinations where every question that applies is answered, which is where an outcome is
 * decided (a walk reaches the outcome of its complete answers).
 */
function enumerate(domains: DomainBuilder, questions: Map<string, Question>, roots: ConditionNode[], wanted: (a: Assignment) => boolean, complete = false): 'some' | 'none' | 'too-many' {
  const ordered = [...factClosure(questions, roots)];
  const values = ordered.map((f) => domains.domain(f));
  if (values.reduce((n, v) => n * v.length, 1) > MAX_COMBINATIONS) return 'too-many';
  const a: Assignment = new Map();
  const walk = (i: number): boolean => {
    if (i === ordered.length) {
      for (const [fact, v] of a) {
        const question = questions.get(fact);
        const applies = !question?.askWhen || holds(question.askWhen, a);
        if (v !== undefined && !applies) return false;
        if (complete && v === undefined && question && applies) return false;
      }
      return wanted(a);
    }
    for (const v of values[i]!) {
      a.set(ordered[i]!, v);
      if (walk(i + 1)) return true;
    }
    a.delete(ordered[i]!);
    return false;
  };
  return walk(0) ? 'some' : 'none';
}
