/** history-instance (https://hl7.org/fhir/R4/http.html#history): every version, newest first, deletions as entries without a resource. */
import type { Bundle } from '@medplum/fhirtypes';
import { readable, type Handler } from '../request';

export const history: Handler = async ({ store, req, params }) => {
  const { type, id } = params;
  const versions = await store.history(type, id);
  await readable(req, versions[0].resource);
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'history',
    total: versions.length,
    entry: versions.map((v) => ({
      fullUrl: `${req.baseUrl}/${type}/${id}`,
      ...(v.deleted ? {} : { resource: v.resource }),
      request: { method: v.deleted ? 'DELETE' : v.versionId === 1 ? 'POST' : 'PUT', url: v.versionId === 1 ? type : `${type}/${id}` },
      response: { status: v.deleted ? '204' : v.versionId === 1 ? '201' : '200', lastModified: v.lastUpdated, etag: `W/"${v.versionId}"` },
    })),
  };
  return { status: 200, body: bundle };
};
