/**
 * transaction (https://hl7.org/fhir/R4/http.html#transaction): every entry's
 * write is checked against the caller's access first, then the store writes
 * them all or none.
 */
import type { Bundle } from '@medplum/fhirtypes';
import type { FhirStore } from '../../store';
import { checkWrite, current, type FhirRequest, type FhirResponse } from '../request';

export async function transaction(store: FhirStore, req: FhirRequest, bundle: Bundle): Promise<FhirResponse> {
  for (const entry of bundle.entry ?? []) {
    const [entryType, entryId] = (entry.request?.url ?? '').split('?')[0].split('/');
    const before = entryId && entry.request?.method !== 'POST' ? await current(store, entryType, entryId) : undefined;
    await checkWrite(req, before, entry.request?.method === 'DELETE' ? undefined : entry.resource);
  }
  return { status: 200, body: await store.transaction(bundle) };
}
