/**
 * Conditional interactions' shared step (https://hl7.org/fhir/R4/http.html#ccreate,
 * #cond-update): the search criteria that select the resource, and at most
 * two matches (enough to tell none, one and several apart).
 */
import type { Resource } from '@medplum/fhirtypes';
import type { FhirStore } from '../store';
import { visibleOnly, type FhirRequest } from './request';

/** The criteria of an If-None-Exist header (a query string without '?'). */
export function ifNoneExistCriteria(req: FhirRequest): Record<string, string> | undefined {
  return req.headers.ifNoneExist ? Object.fromEntries(new URLSearchParams(req.headers.ifNoneExist)) : undefined;
}

/**
 * The matches the caller may see, and only those: a resource hidden from it
 * changes no answer, exactly as if it did not exist (issue #20; HAPI and
 * Medplum scope conditional matches the same way). The store's query counts
 * only what the scope may see; the request's last check runs too.
 */
export async function conditionalMatches(store: FhirStore, req: FhirRequest, type: string, criteria: Record<string, string | string[]>): Promise<Resource[]> {
  const found = await store.search(type, { ...criteria, _count: '2' }, { scope: req.scope });
  return visibleOnly(req, found.resources);
}
