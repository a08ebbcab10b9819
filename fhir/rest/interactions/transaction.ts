/**
 * transaction (https://hl7.org/fhir/R4/http.html#transaction): every entry's
 * write is checked against the caller's access first, then the store writes
 * them all or none.
 */
import type { Bundle } from '@medplum/fhirtypes';
import { badRequest, notFound, OperationOutcomeError } from '../../outcome';
import type { FhirStore } from '../../store';
import { checkWrite, current, refuseHiddenUpdateCreate, visibleOnly, type FhirRequest, type FhirResponse } from '../request';

const WRITES = ['POST', 'PUT', 'DELETE'];

export async function transaction(store: FhirStore, req: FhirRequest, bundle: Bundle): Promise<FhirResponse> {
  // Entries the store would refuse are refused before any access check, so that their answer
  // cannot depend on what the URL names (a hidden resource or none).
  for (const [i, entry] of (bundle.entry ?? []).entries()) {
    const method = entry.request?.method;
    if (method && !WRITES.includes(method)) throw new OperationOutcomeError(badRequest(`Transaction entries support POST, PUT and DELETE, not ${method}`, `Bundle.entry[${i}].request.method`), 400);
  }
  for (const [i, entry] of (bundle.entry ?? []).entries()) {
    const [entryType, entryId] = (entry.request?.url ?? '').split('?')[0].split('/');
    const stored = entryId && entry.request?.method !== 'POST' ? await current(store, entryType, entryId) : undefined;
    // A resource hidden from the caller is treated as absent (issue #20).
    const before = stored && (await visibleOnly(req, [stored])).length > 0 ? stored : undefined;
    try {
      if (entryId && entry.request?.method === 'DELETE' && !before) {
        // As the store answers a DELETE of an id that never existed; one already deleted is left to it.
        if (stored) throw new OperationOutcomeError(notFound(`${entryType}/${entryId} not found`), 404);
        continue;
      }
      if (entryId && entry.request?.method === 'PUT') refuseHiddenUpdateCreate(stored, before, entryType, entryId);
    } catch (error) {
      if (error instanceof OperationOutcomeError) throw new OperationOutcomeError({ ...error.outcome, issue: error.outcome.issue?.map((issue) => ({ ...issue, expression: [`Bundle.entry[${i}].resource`] })) }, error.status);
      throw error;
    }
    await checkWrite(req, before, entry.request?.method === 'DELETE' ? undefined : entry.resource);
  }
  return { status: 200, body: await store.transaction(bundle) };
}
