/** search-type (https://hl7.org/fhir/R4/http.html#search), by GET or by POST to _search: a searchset Bundle with paging links. */
import type { Bundle } from '@medplum/fhirtypes';
import { visibleOnly, type Handler } from '../request';

export const search: Handler = async ({ store, req, params }) => {
  const { type } = params;
  const found = await store.search(type, req.query);
  const result = { ...found, resources: await visibleOnly(req, found.resources), included: await visibleOnly(req, found.included) };
  // With organisation filtering the stored total may count resources this client
  // may not see; a count is information too, so it is given only when it is
  // exactly what the client sees (one page, nothing withheld).
  const onePage = found.offset === 0 && found.total !== undefined && found.total === found.resources.length;
  if (req.visible && !(onePage && result.resources.length === found.resources.length)) delete result.total;
  const self = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query)) for (const one of Array.isArray(v) ? v : [v]) self.append(k, one);
  const link = [{ relation: 'self', url: `${req.baseUrl}/${type}?${self}` }];
  // Paging follows the stored matches: a page thinned by filtering still has a next page.
  if (found.resources.length === found.count && found.count > 0) {
    const next = new URLSearchParams(self);
    next.set('_offset', String(result.offset + result.count));
    link.push({ relation: 'next', url: `${req.baseUrl}/${type}?${next}` });
  }
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(result.total === undefined ? {} : { total: result.total }),
    link,
    entry: [
      ...result.resources.map((resource) => ({ fullUrl: `${req.baseUrl}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' as const } })),
      ...result.included.map((resource) => ({ fullUrl: `${req.baseUrl}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'include' as const } })),
    ],
  };
  return { status: 200, body: bundle };
};
