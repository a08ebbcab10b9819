/**
 * FHIR REST interactions (https://hl7.org/fhir/R4/http.html) as plain
 * functions over the store, independent of Express: each takes a parsed
 * request and returns a status, a body and headers. The route table at the
 * bottom maps method + path shape to a handler; server/fhir mounts it.
 */
import type { Bundle, CapabilityStatement, Resource } from '@medplum/fhirtypes';
import { applyPatch } from 'rfc6902';
import { allOk, badRequest, methodNotAllowed, notFound, OperationOutcomeError, preconditionFailed } from '../outcome';
import type { FhirStore } from '../store';
import { paramsFor } from '../store/search-parameters';
import { isKnownResourceType, validationIssues } from '../validate';

export interface FhirRequest {
  method: string;
  /** Path below the FHIR base, without query: e.g. "Task/123/_history/2". */
  path: string;
  query: Record<string, string | string[]>;
  body?: unknown;
  headers: { ifMatch?: string; ifNoneExist?: string };
  /** The FHIR base URL, for Location headers and paging links. */
  baseUrl: string;
  /** Keeps only what the caller may see (organisation-level access); absent: everything. */
  visible?: (resources: Resource[]) => Promise<Resource[]>;
  /** Throws an OperationOutcomeError (403) when the caller may not make this change; absent: every change. */
  writable?: (change: { before?: Resource; after?: Resource }) => Promise<void>;
}

async function checkWrite(req: FhirRequest, before: Resource | undefined, after: Resource | undefined): Promise<void> {
  if (req.writable) await req.writable({ before, after });
}

async function current(store: FhirStore, type: string, id: string): Promise<Resource | undefined> {
  try {
    return await store.read(type, id);
  } catch (error) {
    if (error instanceof OperationOutcomeError && (error.status === 404 || error.status === 410)) return undefined;
    throw error;
  }
}

async function visibleOnly<T extends Resource>(req: FhirRequest, resources: T[]): Promise<T[]> {
  return req.visible ? ((await req.visible(resources)) as T[]) : resources;
}

async function readable<T extends Resource>(req: FhirRequest, resource: T): Promise<T> {
  if ((await visibleOnly(req, [resource])).length === 0) {
    // Not visible to this organisation: answered as if it did not exist.
    throw new OperationOutcomeError(notFound(`${resource.resourceType}/${resource.id} not found`), 404);
  }
  return resource;
}

export interface FhirResponse {
  status: number;
  body?: Resource;
  headers?: Record<string, string>;
}

/** The resource types this server accepts (the domain's, plus AuditEvent read-only by policy elsewhere). */
export const RESOURCE_TYPES = [
  'Patient', 'RelatedPerson', 'Organization', 'Practitioner', 'PractitionerRole', 'CarePlan', 'CareTeam', 'Encounter', 'EpisodeOfCare',
  'ServiceRequest', 'Task', 'QuestionnaireResponse', 'Questionnaire', 'Observation', 'Consent', 'Communication', 'Flag', 'AuditEvent',
  'PlanDefinition', 'ActivityDefinition', 'Subscription',
] as const;

/**
 * The headers of a response carrying one resource: its version (ETag), when it
 * changed, and its version-specific URL. That URL is the Location of what a
 * write made (RFC 9110 15.3.2: where a 201's resource is) and the
 * Content-Location of what a read hands out (RFC 9110 8.7: what this
 * representation is; Location is for what a 201 made, or a redirect).
 */
function resourceHeaders(resource: Resource, baseUrl: string, interaction: 'read' | 'write'): Record<string, string> {
  return {
    ETag: `W/"${resource.meta?.versionId}"`,
    'Last-Modified': new Date(resource.meta?.lastUpdated ?? Date.now()).toUTCString(),
    [interaction === 'write' ? 'Location' : 'Content-Location']: `${baseUrl}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`,
  };
}

function checkType(type: string): void {
  if (!(RESOURCE_TYPES as readonly string[]).includes(type)) {
    throw new OperationOutcomeError(notFound(`Resource type '${type}' is not supported here; see GET /fhir/metadata`), 404);
  }
}

function bodyResource(req: FhirRequest, type: string, id?: string): Resource {
  const body = req.body as Resource | undefined;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new OperationOutcomeError(badRequest('The request body must be a FHIR resource (a JSON object)'), 400);
  if (body.resourceType !== type) throw new OperationOutcomeError(badRequest(`The body is a ${String(body.resourceType)} but the URL names ${type}`, 'resourceType'), 400);
  if (id !== undefined && body.id !== id) throw new OperationOutcomeError(badRequest(`The body's id '${body.id ?? ''}' does not match the URL's id '${id}'`, `${type}.id`), 400);
  return body;
}

async function search(store: FhirStore, req: FhirRequest, type: string): Promise<FhirResponse> {
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
}

/**
 * A batch Bundle (https://hl7.org/fhir/R4/http.html#transaction): each entry
 * is its own interaction, processed in order; one failing entry gets its
 * OperationOutcome in its response and the others still happen.
 */
async function batch(store: FhirStore, req: FhirRequest, bundle: Bundle): Promise<Bundle> {
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
  return { resourceType: 'Bundle', type: 'batch-response', entry };
}

export function capabilityStatement(baseUrl: string): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-11-23',
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    implementation: { description: 'Forløp FHIR API', url: baseUrl },
    rest: [
      {
        mode: 'server',
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
        resource: RESOURCE_TYPES.map((type) => ({
          type,
          versioning: 'versioned',
          readHistory: true,
          updateCreate: true,
          conditionalCreate: true,
          conditionalUpdate: true,
          interaction: ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type'].map((code) => ({ code: code as 'read' })),
          searchParam: [
            { name: '_id', type: 'token' as const },
            { name: '_lastUpdated', type: 'date' as const },
            { name: '_include', type: 'special' as const },
            { name: '_revinclude', type: 'special' as const },
            ...paramsFor(type).map((p) => ({ name: p.code, type: p.type })),
          ],
        })),
      },
    ],
  };
}

export async function handle(store: FhirStore, req: FhirRequest): Promise<FhirResponse> {
  const parts = req.path.split('/').filter(Boolean);
  const [type, id, op, version] = parts;
  const method = req.method.toUpperCase();

  if (parts.length === 0) {
    if (method !== 'POST') throw new OperationOutcomeError(methodNotAllowed(`Method ${method} is not allowed on the FHIR base; POST a transaction Bundle`), 405);
    const bundle = req.body as Bundle;
    if (bundle?.resourceType !== 'Bundle') throw new OperationOutcomeError(badRequest('POST to the base takes a Bundle of type transaction or batch', 'resourceType'), 400);
    if (bundle.type === 'batch') return { status: 200, body: await batch(store, req, bundle) };
    for (const entry of bundle.entry ?? []) {
      const [entryType, entryId] = (entry.request?.url ?? '').split('?')[0].split('/');
      const before = entryId && entry.request?.method !== 'POST' ? await current(store, entryType, entryId) : undefined;
      await checkWrite(req, before, entry.request?.method === 'DELETE' ? undefined : entry.resource);
    }
    return { status: 200, body: await store.transaction(bundle) };
  }
  if (type === 'metadata' && parts.length === 1 && method === 'GET') return { status: 200, body: capabilityStatement(req.baseUrl) };
  if (!isKnownResourceType(type)) throw new OperationOutcomeError(notFound(`Unknown resource type '${type}'`), 404);
  checkType(type);

  if (parts.length === 1 && method === 'GET') return search(store, req, type);
  if (parts.length === 2 && id === '_search' && method === 'POST') return search(store, req, type);
  if (parts.length === 2 && id === '$validate' && method === 'POST') {
    const issues = validationIssues(bodyResource(req, type));
    return { status: 200, body: issues.length > 0 ? { resourceType: 'OperationOutcome', issue: issues } : allOk('Valid') };
  }
  if (parts.length === 1 && method === 'POST') {
    if (req.headers.ifNoneExist) {
      // Conditional create (https://hl7.org/fhir/R4/http.html#ccreate): one match -> 200 with it, several -> 412.
      const criteria = Object.fromEntries(new URLSearchParams(req.headers.ifNoneExist));
      const found = await store.search(type, { ...criteria, _count: '2' });
      if (found.resources.length > 1) throw new OperationOutcomeError(preconditionFailed(`If-None-Exist '${req.headers.ifNoneExist}' matches more than one ${type}`), 412);
      if (found.resources.length === 1) return { status: 200, body: found.resources[0], headers: resourceHeaders(found.resources[0], req.baseUrl, 'write') };
    }
    const resource = bodyResource(req, type);
    await checkWrite(req, undefined, resource);
    const created = await store.create(resource);
    return { status: 201, body: created, headers: resourceHeaders(created, req.baseUrl, 'write') };
  }
  if (parts.length === 1 && method === 'PUT') {
    // Conditional update (https://hl7.org/fhir/R4/http.html#cond-update): the query selects the resource.
    if (Object.keys(req.query).length === 0) throw new OperationOutcomeError(badRequest(`PUT /${type} needs search criteria (conditional update) or an id in the URL`), 400);
    const found = await store.search(type, { ...req.query, _count: '2' });
    if (found.resources.length > 1) throw new OperationOutcomeError(preconditionFailed(`The conditional update criteria match more than one ${type}`), 412);
    const body = bodyResource(req, type);
    await checkWrite(req, found.resources[0], body);
    if (found.resources.length === 0) {
      const created = await store.create(body);
      return { status: 201, body: created, headers: resourceHeaders(created, req.baseUrl, 'write') };
    }
    const updated = await store.update({ ...body, id: found.resources[0].id }, { ifMatch: req.headers.ifMatch });
    return { status: 200, body: updated, headers: resourceHeaders(updated, req.baseUrl, 'write') };
  }
  if (parts.length === 2 && method === 'PATCH') {
    // JSON Patch (RFC 6902, https://hl7.org/fhir/R4/http.html#patch); the result is validated like any write.
    const operations = req.body;
    if (!Array.isArray(operations)) throw new OperationOutcomeError(badRequest('A PATCH body must be a JSON Patch array (application/json-patch+json)'), 400);
    const stored = await readable(req, await store.read(type, id));
    const patched = structuredClone(stored) as Resource;
    const results = applyPatch(patched, operations);
    const failed = results.findIndex((r) => r !== null);
    if (failed >= 0) throw new OperationOutcomeError(badRequest(`JSON Patch operation ${failed} failed: ${results[failed]!.message}`), 422);
    if (patched.resourceType !== type || patched.id !== id) throw new OperationOutcomeError(badRequest('A PATCH may not change resourceType or id'), 400);
    await checkWrite(req, stored, patched);
    const updated = await store.update(patched, { ifMatch: req.headers.ifMatch ?? `W/"${stored.meta?.versionId}"` });
    return { status: 200, body: updated, headers: resourceHeaders(updated, req.baseUrl, 'write') };
  }
  if (parts.length === 2 && method === 'GET') {
    const resource = await readable(req, await store.read(type, id));
    return { status: 200, body: resource, headers: resourceHeaders(resource, req.baseUrl, 'read') };
  }
  if (parts.length === 2 && method === 'PUT') {
    const body = bodyResource(req, type, id);
    await checkWrite(req, await current(store, type, id), body);
    const updated = await store.update(body, { ifMatch: req.headers.ifMatch });
    const status = updated.meta?.versionId === '1' ? 201 : 200;
    return { status, body: updated, headers: resourceHeaders(updated, req.baseUrl, 'write') };
  }
  if (parts.length === 2 && method === 'DELETE') {
    const before = await current(store, type, id);
    if (before) await checkWrite(req, before, undefined);
    await store.delete(type, id, { ifMatch: req.headers.ifMatch });
    return { status: 204 };
  }
  if (parts.length === 3 && op === '_history' && method === 'GET') {
    const all = await store.history(type, id);
    await readable(req, all[0].resource);
    const versions = all;
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
  }
  if (parts.length === 4 && op === '_history' && method === 'GET') {
    await readable(req, (await store.history(type, id))[0].resource);
    const resource = await store.vread(type, id, version);
    return { status: 200, body: resource, headers: resourceHeaders(resource, req.baseUrl, 'read') };
  }
  throw new OperationOutcomeError(methodNotAllowed(`Method ${method} is not allowed on ${req.path}`), 405);
}
