/**
 * The request and response of one FHIR REST interaction
 * (https://hl7.org/fhir/R4/http.html), independent of Express, and the steps
 * every interaction shares: the body as a resource, the headers of a
 * resource in a response, and the caller's organisation-level access.
 */
import type { Resource } from '@medplum/fhirtypes';
import { badRequest, conflict, issue, notFound, OperationOutcomeError, outcome } from '../outcome';
import type { AccessScope, FhirStore } from '../store';

export interface FhirRequest {
  method: string;
  /** Path below the FHIR base, without query: e.g. "Task/123/_history/2". */
  path: string;
  query: Record<string, string | string[]>;
  body?: unknown;
  headers: { ifMatch?: string; ifNoneExist?: string; prefer?: string };
  /** The FHIR base URL, for Location headers and paging links. */
  baseUrl: string;
  /** Keeps only what the caller may see (organisation-level access); absent: everything. */
  visible?: (resources: Resource[]) => Promise<Resource[]>;
  /** Throws an OperationOutcomeError (403) when the caller may not make this change; absent: every change. */
  writable?: (change: { before?: Resource; after?: Resource }) => Promise<void>;
  /** What the caller may see, for the store's queries (searches and conditional matches count only that); absent: everything. */
  scope?: AccessScope;
  /** Whether the caller's scopes let it read resources of a type (SMART v2), for _include/_revinclude; absent: every type. */
  mayRead?: (resourceType: string) => boolean;
}

export interface FhirResponse {
  status: number;
  body?: Resource;
  headers?: Record<string, string>;
}

/** What a route's handler gets: the store, the request, and the path's named parts (type, id, vid). */
export interface Interaction {
  store: FhirStore;
  req: FhirRequest;
  params: Record<string, string>;
}

export type Handler = (interaction: Interaction) => Promise<FhirResponse>;

/** The resource types this server accepts (the domain's, plus AuditEvent read-only by policy elsewhere). */
export const RESOURCE_TYPES = [
  'Patient', 'RelatedPerson', 'Organization', 'Practitioner', 'PractitionerRole', 'CarePlan', 'CareTeam', 'Encounter', 'EpisodeOfCare',
  'ServiceRequest', 'Task', 'QuestionnaireResponse', 'Questionnaire', 'Observation', 'Consent', 'Communication', 'Flag', 'AuditEvent',
  'PlanDefinition', 'ActivityDefinition', 'Subscription',
] as const;

export function checkType(type: string): void {
  if (!(RESOURCE_TYPES as readonly string[]).includes(type)) {
    throw new OperationOutcomeError(notFound(`Resource type '${type}' is not supported here; see GET /fhir/metadata`), 404);
  }
}

/** The request body as a resource of `type` (and with `id`, when the URL names one). */
export function bodyResource(req: FhirRequest, type: string, id?: string): Resource {
  const body = req.body as Resource | undefined;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new OperationOutcomeError(badRequest('The request body must be a FHIR resource (a JSON object)'), 400);
  if (body.resourceType !== type) throw new OperationOutcomeError(badRequest(`The body is a ${String(body.resourceType)} but the URL names ${type}`, 'resourceType'), 400);
  if (id !== undefined && body.id !== id) throw new OperationOutcomeError(badRequest(`The body's id '${body.id ?? ''}' does not match the URL's id '${id}'`, `${type}.id`), 400);
  return body;
}

/**
 * The headers of a response carrying one resource: its version (ETag), when it
 * changed, and its version-specific URL. That URL is the Location of what a
 * write made (RFC 9110 15.3.2: where a 201's resource is) and the
 * Content-Location of what a read hands out (RFC 9110 8.7: what this
 * representation is; Location is for what a 201 made, or a redirect).
 */
export function resourceHeaders(resource: Resource, baseUrl: string, interaction: 'read' | 'write'): Record<string, string> {
  return {
    ETag: `W/"${resource.meta?.versionId}"`,
    'Last-Modified': new Date(resource.meta?.lastUpdated ?? Date.now()).toUTCString(),
    [interaction === 'write' ? 'Location' : 'Content-Location']: `${baseUrl}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`,
  };
}

/** One preference of a Prefer header (RFC 7240), e.g. prefer(req, 'return') of "return=minimal". */
export function prefer(req: FhirRequest, name: string): string | undefined {
  for (const part of (req.headers.prefer ?? '').split(/[,;]/)) {
    const [key, value] = part.split('=').map((x) => x.trim().replace(/^"|"$/g, ''));
    if (key.toLowerCase() === name) return value?.toLowerCase() ?? '';
  }
  return undefined;
}

/**
 * A response for a resource a write made or found, with the body the client
 * preferred (https://hl7.org/fhir/R4/http.html#ops, Prefer: return=):
 * minimal (none), OperationOutcome (an outcome of the write), or the
 * resource (representation, the default).
 */
export function written(status: number, resource: Resource, req: FhirRequest): FhirResponse {
  const headers = resourceHeaders(resource, req.baseUrl, 'write');
  const ret = prefer(req, 'return');
  if (ret === 'minimal') return { status, headers };
  if (ret === 'operationoutcome') {
    const text = `${status === 201 ? 'Created' : 'Wrote'} ${resource.resourceType}/${resource.id} version ${resource.meta?.versionId}`;
    return { status, headers, body: outcome(issue('informational', text, undefined, 'information')) };
  }
  return { status, body: resource, headers };
}

/** A response carrying one resource read. */
export function readResponse(resource: Resource, req: FhirRequest): FhirResponse {
  return { status: 200, body: resource, headers: resourceHeaders(resource, req.baseUrl, 'read') };
}

/** The current version, or undefined when there is none (never created, or deleted). */
export async function current(store: FhirStore, type: string, id: string): Promise<Resource | undefined> {
  try {
    return await store.read(type, id);
  } catch (error) {
    if (error instanceof OperationOutcomeError && (error.status === 404 || error.status === 410)) return undefined;
    throw error;
  }
}

export async function visibleOnly<T extends Resource>(req: FhirRequest, resources: T[]): Promise<T[]> {
  return req.visible ? ((await req.visible(resources)) as T[]) : resources;
}

/** The resource, when the caller may see it; else a 404, as if it did not exist. */
export async function readable<T extends Resource>(req: FhirRequest, resource: T): Promise<T> {
  if ((await visibleOnly(req, [resource])).length === 0) {
    // Not visible to this organisation: answered as if it did not exist.
    throw new OperationOutcomeError(notFound(`${resource.resourceType}/${resource.id} not found`), 404);
  }
  return resource;
}

/**
 * The current version when the caller may see it; undefined when there is
 * none or it is hidden from the caller, which must not be told apart
 * (issue #20: a hidden resource answers as an absent one).
 */
export async function currentVisible(store: FhirStore, req: FhirRequest, type: string, id: string): Promise<{ stored?: Resource; visible?: Resource }> {
  const stored = await current(store, type, id);
  return { stored, visible: stored && (await visibleOnly(req, [stored])).length > 0 ? stored : undefined };
}

/**
 * Update as create (PUT of an id with no current version the caller may
 * see) when the id is held by a resource hidden from the caller: refused as
 * a create of an id already taken is (409), telling nothing of what holds it.
 * This one answer does differ from a free id's (201): ids are global, and
 * the pathway worker writing through the API needs update as create for its
 * idempotent writes (stable ids from workflow ids). Ids are random or derived
 * from random workflow ids, never from a person, so only a client that
 * already has an id can ask (docs/security.md).
 */
export function refuseHiddenUpdateCreate(stored: Resource | undefined, visible: Resource | undefined, type: string, id: string): void {
  if (!stored || visible) return;
  throw new OperationOutcomeError(conflict(`${type}/${id} already exists`), 409);
}

export async function checkWrite(req: FhirRequest, before: Resource | undefined, after: Resource | undefined): Promise<void> {
  if (req.writable) await req.writable({ before, after });
}
