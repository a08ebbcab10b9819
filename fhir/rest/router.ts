/**
 * The FHIR REST route table (https://hl7.org/fhir/R4/http.html), in the
 * style of Medplum's fhir-router: each route is one line (method, path
 * pattern, handler, the CapabilityStatement interactions it serves), the
 * CapabilityStatement is built from it (capability.ts), and adding an
 * interaction is a file in interactions/ or operations/ plus a line here.
 * Routes are tried in order; the first whose method and pattern match wins.
 */
import type { Bundle } from '@medplum/fhirtypes';
import { badRequest, methodNotAllowed, notFound, OperationOutcomeError } from '../outcome';
import type { FhirStore } from '../store';
import { isKnownResourceType } from '../validate';
import { buildCapabilityStatement, type CapabilityOptions } from './capability';
import { batch } from './interactions/batch';
import { create } from './interactions/create';
import { remove } from './interactions/delete';
import { history } from './interactions/history';
import { patch } from './interactions/patch';
import { read } from './interactions/read';
import { search } from './interactions/search';
import { transaction } from './interactions/transaction';
import { conditionalUpdate, update } from './interactions/update';
import { vread } from './interactions/vread';
import { validate } from './operations/validate';
import { checkType, type FhirRequest, type FhirResponse, type Handler } from './request';

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Segments below the FHIR base; ":name" matches any one segment and passes it as params.name. */
  pattern: string;
  handler: Handler;
  /** system: on the base, no resource type; type and instance: below a resource type, which is checked first. */
  level: 'system' | 'type' | 'instance';
  /** The CapabilityStatement interaction codes this route serves (none: an operation or the statement itself). */
  interactions: string[];
  /** A CapabilityStatement resource flag this route makes true. */
  declares?: 'updateCreate' | 'conditionalCreate' | 'conditionalUpdate';
}

/** POST to the base: a batch or a transaction Bundle. */
const bundle: Handler = async ({ store, req }) => {
  const body = req.body as Bundle;
  if (body?.resourceType !== 'Bundle') throw new OperationOutcomeError(badRequest('POST to the base takes a Bundle of type transaction or batch', 'resourceType'), 400);
  uniqueFullUrls(body);
  if (body.type === 'batch') return batch(store, req, body, handle);
  return transaction(store, req, body);
};

/**
 * bdl-7 (https://hl7.org/fhir/R4/bundle.html#invs): a fullUrl is unique in a
 * Bundle (unless the versions differ, which a transaction or batch does not
 * send). Two entries sharing one would otherwise be stored under one id, or
 * a reference to it would resolve to either.
 */
function uniqueFullUrls(body: Bundle): void {
  const seen = new Map<string, number>();
  (body.entry ?? []).forEach((entry, i) => {
    if (!entry.fullUrl) return;
    const first = seen.get(entry.fullUrl);
    if (first !== undefined) {
      throw new OperationOutcomeError(badRequest(`Bundle.entry[${i}].fullUrl '${entry.fullUrl}' is also Bundle.entry[${first}].fullUrl; a fullUrl must be unique in a Bundle (bdl-7)`, `Bundle.entry[${i}].fullUrl`), 400);
    }
    seen.set(entry.fullUrl, i);
  });
}

const capabilities: Handler = async ({ req }) => ({ status: 200, body: capabilityStatement(req.baseUrl) });

export const ROUTES: readonly Route[] = [
  { method: 'POST', pattern: '', handler: bundle, level: 'system', interactions: ['transaction', 'batch'] },
  { method: 'GET', pattern: 'metadata', handler: capabilities, level: 'system', interactions: [] },
  { method: 'GET', pattern: ':type', handler: search, level: 'type', interactions: ['search-type'] },
  { method: 'POST', pattern: ':type/_search', handler: search, level: 'type', interactions: ['search-type'] },
  { method: 'POST', pattern: ':type/$validate', handler: validate, level: 'type', interactions: [] },
  { method: 'POST', pattern: ':type', handler: create, level: 'type', interactions: ['create'], declares: 'conditionalCreate' },
  { method: 'PUT', pattern: ':type', handler: conditionalUpdate, level: 'type', interactions: ['update'], declares: 'conditionalUpdate' },
  { method: 'PATCH', pattern: ':type/:id', handler: patch, level: 'instance', interactions: ['patch'] },
  { method: 'GET', pattern: ':type/:id', handler: read, level: 'instance', interactions: ['read'] },
  { method: 'PUT', pattern: ':type/:id', handler: update, level: 'instance', interactions: ['update'], declares: 'updateCreate' },
  { method: 'DELETE', pattern: ':type/:id', handler: remove, level: 'instance', interactions: ['delete'] },
  { method: 'GET', pattern: ':type/:id/_history', handler: history, level: 'instance', interactions: ['history-instance'] },
  { method: 'GET', pattern: ':type/:id/_history/:vid', handler: vread, level: 'instance', interactions: ['vread'] },
];

const compiled = ROUTES.map((route) => ({ route, segments: route.pattern.split('/').filter(Boolean) }));

function match(method: string, parts: string[], system: boolean): { route: Route; params: Record<string, string> } | undefined {
  for (const { route, segments } of compiled) {
    if ((route.level === 'system') !== system || route.method !== method || segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    if (segments.every((s, i) => (s.startsWith(':') ? ((params[s.slice(1)] = parts[i]), true) : s === parts[i]))) return { route, params };
  }
  return undefined;
}

/** The methods some route serves on this path (the Allow header of a 405, RFC 9110 15.5.6 and 10.2.1). */
export function allowedMethods(parts: string[], system: boolean): string[] {
  const methods = new Set<string>();
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) if (match(method, parts, system)) methods.add(method);
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods];
}

function methodNotAllowedError(_method: string, parts: string[], system: boolean, text: string): OperationOutcomeError {
  return new OperationOutcomeError(methodNotAllowed(text), 405, { Allow: allowedMethods(parts, system).join(', ') });
}

export function capabilityStatement(baseUrl: string, options: CapabilityOptions = {}) {
  return buildCapabilityStatement(ROUTES, baseUrl, options);
}

export async function handle(store: FhirStore, req: FhirRequest): Promise<FhirResponse> {
  const parts = req.path.split('/').filter(Boolean);
  const method = req.method.toUpperCase();
  const system = match(method, parts, true);
  if (system) return system.route.handler({ store, req, params: system.params });
  if (parts.length === 0) throw methodNotAllowedError(method, parts, true, `Method ${method} is not allowed on the FHIR base; POST a transaction Bundle`);
  const [type] = parts;
  if (!isKnownResourceType(type)) throw new OperationOutcomeError(notFound(`Unknown resource type '${type}'`), 404);
  checkType(type);
  const found = match(method, parts, false);
  if (found) return found.route.handler({ store, req, params: found.params });
  if (allowedMethods(parts, false).length === 0) throw new OperationOutcomeError(notFound(`No FHIR interaction at ${req.path}; see GET /fhir/metadata`), 404);
  throw methodNotAllowedError(method, parts, false, `Method ${method} is not allowed on ${req.path}`);
}
