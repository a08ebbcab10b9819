/**
 * Extracts search index rows from a resource by evaluating each supported
 * search parameter's FHIRPath expression (@medplum/core's evaluator).
 */
import { evalFhirPath } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { paramsFor, type IndexedParam } from './search-parameters';

export interface IndexRows {
  tokens: { param: string; system: string | null; code: string }[];
  references: { param: string; target: string }[];
  dates: { param: string; low: string | null; high: string | null }[];
}

/** The instant range a FHIR date/dateTime/instant/Period covers (a date of 2026-03 covers the whole month). */
export function dateRange(value: unknown): { low: string | null; high: string | null } | undefined {
  if (value && typeof value === 'object') {
    const p = value as { start?: string; end?: string };
    return { low: p.start ? dateRange(p.start)!.low : null, high: p.end ? dateRange(p.end)!.high : null };
  }
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(T.*)?$/.exec(value);
  if (!m) return undefined;
  if (m[4]) {
    const t = new Date(value).toISOString();
    return { low: t, high: t };
  }
  const [y, mo, d] = [Number(m[1]), m[2] ? Number(m[2]) : undefined, m[3] ? Number(m[3]) : undefined];
  const low = new Date(Date.UTC(y, (mo ?? 1) - 1, d ?? 1));
  const high = d ? new Date(Date.UTC(y, mo! - 1, d + 1) - 1) : mo ? new Date(Date.UTC(y, mo, 1) - 1) : new Date(Date.UTC(y + 1, 0, 1) - 1);
  return { low: low.toISOString(), high: high.toISOString() };
}

/** Whether the resource has the element, or a choice-type form of it (effective: effectiveDateTime, effectivePeriod...). */
function hasElement(keys: string[], element: string): boolean {
  return keys.some((key) => key === element || (key.length > element.length && key.startsWith(element) && /[A-Z]/.test(key[element.length])));
}

export function indexRows(resource: Resource): IndexRows {
  return indexRowsFor(paramsFor(resource.resourceType), resource);
}

export function indexRowsFor(params: IndexedParam[], resource: Resource): IndexRows {
  const rows: IndexRows = { tokens: [], references: [], dates: [] };
  const keys = Object.keys(resource);
  for (const param of params) {
    // Skipped when the resource has none of the elements it starts from (see IndexedParam.elements).
    if (param.elements && !param.elements.some((element) => hasElement(keys, element))) continue;
    let values: unknown[];
    try {
      values = evalFhirPath(param.path, resource);
    } catch {
      continue;
    }
    for (const value of values) {
      if (param.type === 'token') {
        if (typeof value === 'string' || typeof value === 'boolean') rows.tokens.push({ param: param.code, system: null, code: String(value) });
        else if (value && typeof value === 'object') {
          const v = value as { system?: string; value?: string; code?: string; coding?: { system?: string; code?: string }[] };
          if (v.coding) {
            for (const c of v.coding) if (c.code) rows.tokens.push({ param: param.code, system: c.system ?? null, code: c.code });
          }
          else if (v.value) rows.tokens.push({ param: param.code, system: v.system ?? null, code: v.value });
          else if (v.code) rows.tokens.push({ param: param.code, system: v.system ?? null, code: v.code });
        }
      } else if (param.type === 'reference' || param.type === 'uri') {
        const target = typeof value === 'string' ? value : (value as { reference?: string })?.reference;
        if (target) rows.references.push({ param: param.code, target });
      } else if (param.type === 'date') {
        const range = dateRange(value);
        if (range) rows.dates.push({ param: param.code, ...range });
      }
    }
  }
  return rows;
}
