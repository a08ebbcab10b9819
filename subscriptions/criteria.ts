/**
 * Subscription criteria (FHIR R4 Subscription.criteria, a search URL such as
 * `Task?owner=Organization/dps&status=requested,received`): parsed once when
 * the Subscription is activated, then matched against each changed resource
 * with the same search index the store builds (fhir/store/indexing.ts), so a
 * criterion means exactly what the same search would.
 *
 * Forløp notifies of the resources that carry handoffs: Task and
 * ServiceRequest. A criteria must name exactly one organisation (the
 * subscriber's own) in a reference parameter, so a system is told only of
 * what is addressed to it or sent by it.
 */
import type { Resource } from '@medplum/fhirtypes';
import { indexRows } from '../fhir/store/indexing';
import { paramsFor } from '../fhir/store/search-parameters';

export const SUBSCRIBABLE_TYPES = ['Task', 'ServiceRequest'] as const;

export interface Criterion {
  param: string;
  type: 'token' | 'reference';
  /** Any of these (comma-separated in the URL). */
  values: string[];
}

export interface ParsedCriteria {
  resourceType: string;
  criteria: Criterion[];
  organisation: string;
}

export class CriteriaError extends Error {
  override readonly name = 'CriteriaError';
}

export function parseCriteria(text: string): ParsedCriteria {
  const [resourceType, query = ''] = text.split('?');
  if (!(SUBSCRIBABLE_TYPES as readonly string[]).includes(resourceType)) {
    throw new CriteriaError(`Subscriptions are for ${SUBSCRIBABLE_TYPES.join(' and ')}: criteria must start with one of them, e.g. Task?owner=Organization/<your organisation>`);
  }
  const known = new Map(paramsFor(resourceType).map((p) => [p.code, p]));
  const criteria: Criterion[] = [];
  const organisations = new Set<string>();
  for (const [name, value] of new URLSearchParams(query)) {
    const param = known.get(name);
    if (!param || (param.type !== 'token' && param.type !== 'reference')) {
      const allowed = [...known.values()].filter((p) => p.type === 'token' || p.type === 'reference').map((p) => p.code);
      throw new CriteriaError(`Unsupported criteria parameter '${name}' for ${resourceType}: use ${allowed.join(', ')}`);
    }
    const values = value.split(',').filter(Boolean);
    if (values.length === 0) throw new CriteriaError(`Criteria parameter '${name}' needs a value`);
    if (param.type === 'reference') for (const v of values) if (v.startsWith('Organization/')) organisations.add(v);
    criteria.push({ param: name, type: param.type, values });
  }
  if (organisations.size !== 1) {
    throw new CriteriaError(`Criteria must name exactly one organisation, your own, as owner, requester or performer (e.g. ${resourceType}?${resourceType === 'Task' ? 'owner' : 'performer'}=Organization/<id>); found ${organisations.size}`);
  }
  return { resourceType, criteria, organisation: [...organisations][0] };
}

/** Whether a resource version matches: every criterion holds (a criterion holds when any of its values does). */
export function matches(parsed: ParsedCriteria, resource: Resource): boolean {
  if (resource.resourceType !== parsed.resourceType) return false;
  const rows = indexRows(resource);
  return parsed.criteria.every((c) =>
    c.values.some((value) => {
      if (c.type === 'reference') return rows.references.some((r) => r.param === c.param && r.target === value);
      const [system, code] = value.includes('|') ? value.split('|') : [undefined, value];
      return rows.tokens.some((t) => t.param === c.param && t.code === code && (system === undefined || (t.system ?? '') === system));
    }),
  );
}
