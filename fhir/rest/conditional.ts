/**
 * Conditional interactions' shared step (https://hl7.org/fhir/R4/http.html#ccreate,
 * #cond-update): the search criteria that select the resource, and at most
 * two matches (enough to tell none, one and several apart).
 */
import type { Resource } from '@medplum/fhirtypes';
import type { FhirStore } from '../store';
import type { FhirRequest } from './request';

/** The criteria of an If-None-Exist header (a query string without '?'). */
export function ifNoneExistCriteria(req: FhirRequest): Record<string, string> | undefined {
  return req.headers.ifNoneExist ? Object.fromEntries(new URLSearchParams(req.headers.ifNoneExist)) : undefined;
}

export async function conditionalMatches(store: FhirStore, _req: FhirRequest, type: string, criteria: Record<string, string | string[]>): Promise<Resource[]> {
  const found = await store.search(type, { ...criteria, _count: '2' });
  return found.resources;
}
