import { isDeepStrictEqual } from 'node:util';
import { canonicalJson } from '../canonical.js';
import type { RuleCatalog } from '../rulesets/loader.js';
import type { ModuleFile, PathwayFile, RedFlagsFile } from '../rulesets/schema.js';

export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
}

export interface ItemChange {
  kind: 'question' | 'rule' | 'outcome';
  id: string;
  change: 'added' | 'removed' | 'changed';
  fields: FieldChange[];
}

export interface FileDiff {
  id: string;
  /** What the file is; absent for a pathway (as before modules). */
  kind?: 'module' | 'global_red_flags';
  change: 'added' | 'removed' | 'changed';
  fields: FieldChange[];
  items: ItemChange[];
  /** A module's change: every pathway that includes it, before or after, whose version it changes. */
  pathways?: string[];
}

type RuleFile = PathwayFile | RedFlagsFile | ModuleFile;

const ITEM_KEYS = ['questions', 'rules', 'outcomes'] as const;

function fieldChanges(before: Record<string, unknown>, after: Record<string, unknown>, skip: readonly string[] = []): FieldChange[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => !skip.includes(k)).sort();
  return keys.filter((k) => !isDeepStrictEqual(before[k], after[k])).map((field) => ({ field, before: before[field], after: after[field] }));
}

function itemsOf(file: RuleFile, key: (typeof ITEM_KEYS)[number]): Map<string, Record<string, unknown>> {
  if (key === 'outcomes') {
    return new Map(Object.entries(file.outcomes));
  }
  // A pathway's include entries have no id of their own: "include <module>" names them.
  return new Map((file[key] as ({ id: string } | { include: string })[]).map((item) => ['include' in item ? `include ${item.include}` : item.id, item as Record<string, unknown>]));
}

/** Field by field: what a reviewer needs to see between two versions of the rules. */
export function diffFiles(before: RuleFile | undefined, after: RuleFile | undefined): FileDiff | undefined {
  if (!before && !after) return undefined;
  const id = (after ?? before)!.id;
  if (!before || !after) {
    return { id, change: before ? 'removed' : 'added', fields: [], items: [] };
  }
  const items: ItemChange[] = [];
  for (const key of ITEM_KEYS) {
    const kind = key === 'questions' ? 'question' : key === 'rules' ? 'rule' : 'outcome';
    const old = itemsOf(before, key);
    const now = itemsOf(after, key);
    for (const [itemId, item] of old) {
      const next = now.get(itemId);
      if (!next) items.push({ kind, id: itemId, change: 'removed', fields: [] });
      else if (canonicalJson(item) !== canonicalJson(next)) items.push({ kind, id: itemId, change: 'changed', fields: fieldChanges(item, next) });
    }
    for (const itemId of now.keys()) if (!old.has(itemId)) items.push({ kind, id: itemId, change: 'added', fields: [] });
  }
  const fields = fieldChanges(before as unknown as Record<string, unknown>, after as unknown as Record<string, unknown>, ITEM_KEYS);
  if (!fields.length && !items.length) return undefined;
  return { id, change: 'changed', fields, items };
}

export function diffCatalogs(before: RuleCatalog, after: RuleCatalog): FileDiff[] {
  const out: FileDiff[] = [];
  const rf = diffFiles(before.redFlags.content, after.redFlags.content);
  if (rf) out.push(rf);
  const moduleIds = [...new Set([...before.modules, ...after.modules].map((m) => m.content.id))].sort();
  const including = (catalog: RuleCatalog, id: string) => [...catalog.versions.values()].filter((v) => v.modules.some((m) => m.id === id)).map((v) => v.id);
  for (const id of moduleIds) {
    const d = diffFiles(before.modules.find((m) => m.content.id === id)?.content, after.modules.find((m) => m.content.id === id)?.content);
    if (d) out.push({ ...d, kind: 'module', pathways: [...new Set([...including(before, id), ...including(after, id)])].sort() });
  }
  const ids = [...new Set([...before.pathways.map((p) => p.content.id), ...after.pathways.map((p) => p.content.id)])].sort();
  for (const id of ids) {
    const d = diffFiles(before.pathways.find((p) => p.content.id === id)?.content, after.pathways.find((p) => p.content.id === id)?.content);
    if (d) out.push(d);
  }
  return out;
}
