/** search-type (https://hl7.org/fhir/R4/http.html#search), by GET or by POST to _search: a searchset Bundle with paging links. */
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { issue, outcome } from '../../outcome';
import { elementsOf, subset } from '../elements';
import { checkedPaging, pageLinks } from '../paging';
import { visibleOnly, type FhirRequest, type Handler } from '../request';

/**
 * Included resources need the scope of their own type (SMART v2): a token for Tasks
 * does not get Patients through `_include=Task:patient`. Those left out are named,
 * by type, in an OperationOutcome entry (search.mode 'outcome').
 */
function inScope(req: FhirRequest, included: Resource[]): { included: Resource[]; outcome?: BundleEntry } {
  if (!req.mayRead) return { included };
  const refused = new Set<string>();
  const kept = included.filter((r) => req.mayRead!(r.resourceType) || (refused.add(r.resourceType), false));
  if (refused.size === 0) return { included };
  const text = `Included ${[...refused].sort().join(', ')} resources were left out: the client's scopes do not allow reading them (it needs system/<type>.r or broader)`;
  return { included: kept, outcome: { resource: outcome(issue('forbidden', text, undefined, 'warning')), search: { mode: 'outcome' } } };
}


export const search: Handler = async ({ store, req, params }) => {
  const { type } = params;
  // The store's query matches only what the caller's scope may see, so the total and the
  // paging count only that (a count is information too: issue #20).
  const query = checkedPaging(req);
  const elements = elementsOf(query);
  const found = await store.search(type, query, { scope: req.scope });
  const scoped = inScope(req, found.included);
  const result = { ...found, resources: await visibleOnly(req, found.resources), included: await visibleOnly(req, scoped.included) };
  // The request's last check withholding a match means the query's scope and the access rules
  // disagree: then no total is given rather than one that counts what the caller cannot see.
  if (result.resources.length !== found.resources.length || (req.visible && !req.scope)) delete result.total;
  const link = pageLinks(`${req.baseUrl}/${type}`, query, { offset: found.offset, count: found.count, returned: found.resources.length, total: result.total, storedTotal: found.total });
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(result.total === undefined ? {} : { total: result.total }),
    link,
    entry: [
      ...(elements ? result.resources.map((r) => subset(r, elements)) : result.resources).map((resource) => ({ fullUrl: `${req.baseUrl}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' as const } })),
      ...result.included.map((resource) => ({ fullUrl: `${req.baseUrl}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'include' as const } })),
      ...(scoped.outcome ? [scoped.outcome] : []),
    ],
  };
  return { status: 200, body: bundle };
};
