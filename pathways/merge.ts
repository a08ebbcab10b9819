/**
 * `extends`: a local variant adapts a base definition. Its entries replace
 * the base entries with the same id (whole entries, so what a variant says
 * is what runs), new ids are added, and `remove` leaves base entries out.
 * Every entry remembers the file and place it came from, so later checks
 * point at the right file.
 */
import type { PathwayDocument } from './schema';
import { DefinitionError, type DefinitionProblem } from './problems';
import type { SourceFile } from './source-file';

export interface Entry<T> {
  id: string;
  value: T;
  origin: SourceFile;
  path: (string | number)[];
}

type Doc = PathwayDocument;
type Item<K extends keyof Doc> = NonNullable<Doc[K]> extends (infer T)[] ? T : NonNullable<Doc[K]> extends Record<string, infer V> ? V : never;

export const LIST_KEYS = ['phases', 'contacts', 'screenings', 'interventions', 'rules', 'handoffs', 'checks', 'exits'] as const;
export const MAP_KEYS = ['sources', 'services', 'instruments'] as const;
type ListKey = (typeof LIST_KEYS)[number];
type MapKey = (typeof MAP_KEYS)[number];

export type MergedDefinition = {
  file: SourceFile;
  /** url|version of this definition and of every definition it extends, nearest first. */
  chain: string[];
  meta: Pick<Doc, 'url' | 'version' | 'name' | 'title' | 'status' | 'publisher' | 'description' | 'extends' | 'matchWithin'>;
} & { [K in ListKey]: Entry<Item<K>>[] } & { [K in MapKey]: Record<string, Entry<Item<K>>> };

export interface DefinitionLookup {
  /** The source of a definition by url|version, or undefined when unknown. */
  find(canonical: string, near: SourceFile): SourceFile | undefined;
}

export function canonicalOf(doc: Pick<Doc, 'url' | 'version'>): string {
  return `${doc.url}|${doc.version}`;
}

export function merge(file: SourceFile, lookup: DefinitionLookup, seen: string[] = []): MergedDefinition {
  const doc = file.document;
  const canonical = canonicalOf(doc);
  if (seen.includes(canonical)) {
    throw new DefinitionError([file.problem(['extends'], `extends forms a cycle: ${[...seen, canonical].join(' -> ')}`, 'a definition cannot extend itself, directly or through another')]);
  }
  const own = fromDocument(file);
  if (!doc.extends) {
    if (doc.remove?.length) throw new DefinitionError([file.problem(['remove'], "'remove' needs 'extends': there is no base definition to remove entries from")]);
    return own;
  }
  const baseFile = lookup.find(doc.extends, file);
  if (!baseFile) {
    throw new DefinitionError([file.problem(['extends'], `no definition ${doc.extends} is known`, 'extend a built-in definition (forlop pathway list) or put the base file next to this one')]);
  }
  const base = merge(baseFile, lookup, [...seen, canonical]);
  const problems: DefinitionProblem[] = [];
  const removed = new Set(doc.remove ?? []);
  const found = new Set<string>();
  // Tolerances per kind: the variant's replace the base's kind by kind.
  const matchWithin = base.meta.matchWithin || own.meta.matchWithin ? { ...base.meta.matchWithin, ...own.meta.matchWithin } : undefined;
  const result = { file, chain: [canonical, ...base.chain], meta: { ...own.meta, ...(matchWithin ? { matchWithin } : {}) } } as MergedDefinition;
  for (const key of LIST_KEYS) {
    const entries = (base[key] as Entry<unknown>[]).filter((e) => !(removed.has(e.id) && found.add(e.id)));
    for (const entry of own[key] as Entry<unknown>[]) {
      const i = entries.findIndex((e) => e.id === entry.id);
      if (i >= 0) entries[i] = entry;
      else entries.push(entry);
    }
    (result as Record<string, unknown>)[key] = entries;
  }
  for (const key of MAP_KEYS) {
    const entries = Object.fromEntries(Object.entries(base[key] as Record<string, Entry<unknown>>).filter(([id]) => !(removed.has(id) && found.add(id))));
    (result as Record<string, unknown>)[key] = { ...entries, ...(own[key] as Record<string, Entry<unknown>>) };
  }
  for (const [i, id] of (doc.remove ?? []).entries()) {
    if (!found.has(id)) problems.push(file.problem(['remove', i], `'${id}' is not an entry of ${doc.extends}`, 'remove names the id of a step, rule, handoff, check, exit, phase, service, instrument or source of the base'));
  }
  if (problems.length) throw new DefinitionError(problems);
  return result;
}

function fromDocument(file: SourceFile): MergedDefinition {
  const doc = file.document;
  const result = {
    file,
    chain: [canonicalOf(doc)],
    meta: { url: doc.url, version: doc.version, name: doc.name, title: doc.title, status: doc.status, publisher: doc.publisher, description: doc.description, extends: doc.extends, ...(doc.matchWithin ? { matchWithin: doc.matchWithin } : {}) },
  } as MergedDefinition;
  for (const key of LIST_KEYS) {
    const list = (doc[key] ?? []) as { id: string }[];
    (result as Record<string, unknown>)[key] = list.map((value, i) => ({ id: value.id, value, origin: file, path: [key, i] }));
  }
  for (const key of MAP_KEYS) {
    const map = (doc[key] ?? {}) as Record<string, unknown>;
    (result as Record<string, unknown>)[key] = Object.fromEntries(Object.entries(map).map(([id, value]) => [id, { id, value, origin: file, path: [key, id] }]));
  }
  return result;
}
