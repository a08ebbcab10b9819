/**
 * What a FHIR REST request does, read from its method and URL (FHIR R4 RESTful
 * API, https://hl7.org/fhir/R4/http.html). Used for audit when a route has not
 * described itself; the FHIR routes may override it (see `describeAudit`).
 */

/** Codes of http://hl7.org/fhir/restful-interaction (R4). */
export type RestInteraction =
  | 'read'
  | 'vread'
  | 'update'
  | 'patch'
  | 'delete'
  | 'history-instance'
  | 'history-type'
  | 'history-system'
  | 'create'
  | 'search-type'
  | 'search-system'
  | 'capabilities'
  | 'transaction'
  | 'operation';

export interface FhirRequestInfo {
  interaction: RestInteraction;
  resourceType?: string;
  id?: string;
  versionId?: string;
  /** Operation name without '$', for interaction 'operation'. */
  operation?: string;
  /** True for conditional create/update/delete (search criteria in the URL). */
  conditional?: boolean;
}

const TYPE = /^[A-Z][A-Za-z]+$/;

/**
 * Classifies a request path relative to the FHIR base (e.g. "/Task/1/_history/2").
 * Returns undefined for paths that are not FHIR interactions.
 */
export function classifyFhirRequest(method: string, path: string, hasQuery = false): FhirRequestInfo | undefined {
  const m = method.toUpperCase();
  const parts = path.split('?')[0].split('/').filter(Boolean).map(decodeURIComponent);
  const [type, id, sub, version] = parts;
  if (parts.length === 0) {
    if (m === 'POST') return { interaction: 'transaction' };
    if (m === 'GET') return { interaction: 'search-system' };
    return undefined;
  }
  if (type === 'metadata' && parts.length === 1 && m === 'GET') return { interaction: 'capabilities' };
  if (type === '_history' && parts.length === 1) return { interaction: 'history-system' };
  if (type === '_search' && parts.length === 1 && m === 'POST') return { interaction: 'search-system' };
  if (type.startsWith('$') && parts.length === 1) return { interaction: 'operation', operation: type.slice(1) };
  if (!TYPE.test(type)) return undefined;
  const last = parts[parts.length - 1];
  if (last.startsWith('$')) {
    return { interaction: 'operation', resourceType: type, id: parts.length === 3 ? id : undefined, operation: last.slice(1) };
  }
  if (parts.length === 1) {
    if (m === 'GET') return { interaction: 'search-type', resourceType: type };
    if (m === 'POST') return { interaction: 'create', resourceType: type, conditional: hasQuery || undefined };
    if (m === 'PUT') return { interaction: 'update', resourceType: type, conditional: true };
    if (m === 'PATCH') return { interaction: 'patch', resourceType: type, conditional: true };
    if (m === 'DELETE') return { interaction: 'delete', resourceType: type, conditional: true };
    return undefined;
  }
  if (id === '_search' && parts.length === 2 && m === 'POST') return { interaction: 'search-type', resourceType: type };
  if (id === '_history' && parts.length === 2) return { interaction: 'history-type', resourceType: type };
  if (parts.length === 2) {
    if (m === 'GET') return { interaction: 'read', resourceType: type, id };
    if (m === 'PUT') return { interaction: 'update', resourceType: type, id };
    if (m === 'PATCH') return { interaction: 'patch', resourceType: type, id };
    if (m === 'DELETE') return { interaction: 'delete', resourceType: type, id };
    return undefined;
  }
  if (sub === '_history' && parts.length === 3 && m === 'GET') return { interaction: 'history-instance', resourceType: type, id };
  if (sub === '_history' && parts.length === 4 && m === 'GET') return { interaction: 'vread', resourceType: type, id, versionId: version };
  return undefined;
}
