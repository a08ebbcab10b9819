/**
 * batch (https://hl7.org/fhir/R4/http.html#transaction): each entry is its
 * own interaction, sent back through the one router (as Medplum's
 * BatchProcessor does) and processed in order; one failing entry gets its
 * OperationOutcome in its response and the others still happen.
 */
import type { Bundle } from '@medplum/fhirtypes';
import { badRequest, OperationOutcomeError } from '../../outcome';
import type { FhirStore } from '../../store';
import type { FhirRequest, FhirResponse } from '../request';

export async function batch(store: FhirStore, req: FhirRequest, bundle: Bundle, handle: (store: FhirStore, req: FhirRequest) => Promise<FhirResponse>): Promise<FhirResponse> {
  const entry: NonNullable<Bundle['entry']> = [];
  for (const item of bundle.entry ?? []) {
    const [path, query] = (item.request?.url ?? '').split('?');
    try {
      if (!item.request?.method) throw new OperationOutcomeError(badRequest('A batch entry needs request.method and request.url'), 400);
      const response = await handle(store, {
        ...req,
        method: item.request.method,
        path,
        query: Object.fromEntries(new URLSearchParams(query ?? '')),
        body: item.resource,
        headers: { ifMatch: item.request.ifMatch, ifNoneExist: item.request.ifNoneExist },
      });
      entry.push({ resource: response.body, response: { status: String(response.status), etag: response.headers?.ETag, location: response.headers?.Location } });
    } catch (error) {
      if (!(error instanceof OperationOutcomeError)) throw error;
      entry.push({ response: { status: String(error.status), outcome: error.outcome } });
    }
  }
  return { status: 200, body: { resourceType: 'Bundle', type: 'batch-response', entry } };
}
