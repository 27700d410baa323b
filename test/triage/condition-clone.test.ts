import { createRequire } from 'node:module';
import path from 'node:path';
import { Rule } from 'json-rules-engine';
import t from 'tap';
import { loadRuleCatalog } from '../../src/rulesets/loader.js';
import { BUNDLED_RULES, REPO } from '../helpers.js';

/**
 * json-rules-engine copies a rule's conditions into every result it makes with `clone`, which
 * package.json replaces with packages/condition-clone. These pin that json-rules-engine really
 * loads it, and that its copies are what `clone` promises for everything a rule set holds.
 */
const engineRequire = createRequire(createRequire(import.meta.url).resolve('json-rules-engine'));
const copy = engineRequire('clone') as <T>(value: T) => T;

t.test('json-rules-engine loads packages/condition-clone as its clone', async (t) => {
  t.equal(engineRequire.resolve('clone'), path.join(REPO, 'packages/condition-clone/index.cjs'));
});

/** Every difference between a copy and its original: keys, values, prototypes, shared objects. */
function differences(original: unknown, copied: unknown, where = '$', seen = new Set<object>()): string[] {
  if (original === null || typeof original !== 'object') {
    return Object.is(original, copied) ? [] : [`${where}: ${String(copied)} for ${String(original)}`];
  }
  if (copied === null || typeof copied !== 'object') return [`${where}: not an object`];
  if (copied === original || seen.has(copied)) return [`${where}: shared with the original`];
  seen.add(copied);
  const out: string[] = [];
  if (Object.getPrototypeOf(copied) !== Object.getPrototypeOf(original)) out.push(`${where}: another prototype`);
  if (Array.isArray(original) !== Array.isArray(copied)) out.push(`${where}: array-ness differs`);
  const keys = Object.keys(original);
  if (JSON.stringify(Object.keys(copied)) !== JSON.stringify(keys)) out.push(`${where}: keys ${Object.keys(copied).join()} for ${keys.join()}`);
  for (const key of keys) {
    out.push(...differences((original as Record<string, unknown>)[key], (copied as Record<string, unknown>)[key], `${where}.${key}`, seen));
  }
  return out;
}

t.test('every bundled rule and askWhen, as json-rules-engine holds it, copies key for key with its prototypes and shares nothing', async (t) => {
  const catalog = await loadRuleCatalog(BUNDLED_RULES);
  let copied = 0;
  for (const version of catalog.versions.values()) {
    const conditions = [...version.rules.map((r) => r.rule.conditions), ...version.questions.flatMap((q) => (q.askWhen ? [q.askWhen] : []))];
    for (const condition of conditions) {
      const held = (new Rule({ conditions: condition, event: { type: 'decide' } }) as unknown as { conditions: object }).conditions;
      const diff = differences(held, copy(held));
      if (diff.length) t.fail(`${version.id}: ${diff.slice(0, 5).join('; ')}`);
      copied += 1;
    }
  }
  t.ok(copied > 100, `${copied} condition trees copied`);
});

t.test('what JSON can hold copies exactly; a key named __proto__ stays a key', async (t) => {
  const tree = JSON.parse('{"all":[{"fact":"a","value":[1,"x",true,null]},{"__proto__":{"p":1},"n":-0.5}],"none":null}') as object;
  t.same(differences(tree, copy(tree)), []);
  const withKey = copy(JSON.parse('{"__proto__":{"p":1}}') as Record<string, unknown>);
  t.equal(Object.getPrototypeOf(withKey), Object.prototype, 'the prototype is not set from it');
  t.same(Object.keys(withKey), ['__proto__']);
  const bare = Object.assign(Object.create(null) as object, { a: [1] });
  t.same(differences(bare, copy(bare)), [], 'an object without a prototype stays without one');
});

t.test('anything a property copy would get wrong is refused, not copied', async (t) => {
  for (const value of [new Date(0), new Map([[1, 2]]), new Set([1]), /x/, new Uint8Array(2), () => 1, Symbol('s')]) {
    t.throws(() => copy({ value }), TypeError, Object.prototype.toString.call(value));
  }
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  t.throws(() => copy(cyclic), RangeError, 'a cycle ends in an error, never a copy that loops');
});
