/**
 * A checked definition as one standalone document: what `extends` and
 * `remove` made of it, written out whole (no base needed to read it). This
 * is what a published PlanDefinition carries, so any process can run the
 * definition from the FHIR store alone.
 */
import { LIST_KEYS, MAP_KEYS, type MergedDefinition } from './merge';
import type { PathwayDocument } from './schema';

export function flatten(merged: MergedDefinition): PathwayDocument {
  const { url, version, name, title, status, publisher, description } = merged.meta;
  const doc: Record<string, unknown> = { url, version, name, title, status, ...(publisher ? { publisher } : {}), ...(description ? { description } : {}) };
  for (const key of MAP_KEYS) {
    const entries = Object.entries(merged[key]);
    if (entries.length) doc[key] = Object.fromEntries(entries.map(([id, e]) => [id, e.value]));
  }
  for (const key of LIST_KEYS) {
    const entries = merged[key] as { value: unknown }[];
    if (entries.length) doc[key] = entries.map((e) => e.value);
  }
  return doc as PathwayDocument;
}
