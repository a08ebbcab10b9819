/**
 * Scope checks for the FHIR API (SMART v2 style, server/auth/scopes): each
 * interaction needs the scope for its resource type; a transaction needs the
 * scope of every entry. Runs after authentication and body parsing.
 * Organisation-level filtering of what a client may see is a later step
 * (see the closing notes of the security issue).
 */
import type { Request, RequestHandler } from 'express';
import type { Bundle } from '@medplum/fhirtypes';
import { checkScope, sendAuthError, type Interaction } from './auth';
import { forbidden } from '../fhir/outcome';

const WRITES = new Set<Interaction>(['create', 'update', 'patch', 'delete']);

function interactionOf(method: string, path: string): { type: string; interaction: Interaction } | undefined {
  const [type, id, sub, version] = path.split('/').filter(Boolean);
  const m = method.toUpperCase();
  if (!type || type === 'metadata') return undefined;
  if (id === undefined) return { type, interaction: m === 'POST' ? 'create' : m === 'PUT' ? 'update' : 'search' };
  if (id === '_search') return { type, interaction: 'search' };
  if (id.startsWith('$')) return { type, interaction: 'operation' };
  if (sub === '_history') return { type, interaction: version ? 'vread' : 'history' };
  if (m === 'GET') return { type, interaction: 'read' };
  if (m === 'PUT') return { type, interaction: 'update' };
  if (m === 'PATCH') return { type, interaction: 'patch' };
  if (m === 'DELETE') return { type, interaction: 'delete' };
  return undefined;
}

/** Whether the caller's scopes let it read resources of a type: for what a search includes (SMART v2). */
export function readScope(req: Request): ((resourceType: string) => boolean) | undefined {
  if (!req.forlop) return undefined;
  return (resourceType) => checkScope(req, resourceType, 'read') === undefined;
}

export function fhirScopes(): RequestHandler {
  return (req, res, next) => {
    const checks: { type: string; interaction: Interaction }[] = [];
    if (req.path === '/' || req.path === '') {
      for (const entry of ((req.body ?? {}) as Bundle).entry ?? []) {
        const target = interactionOf(entry.request?.method ?? 'GET', (entry.request?.url ?? '').split('?')[0]);
        if (target) checks.push(target);
      }
    } else {
      const one = interactionOf(req.method, req.path);
      if (one) checks.push(one);
    }
    for (const { type, interaction } of checks) {
      const error = checkScope(req, type, interaction);
      if (error) return sendAuthError(res, error);
      if (type === 'AuditEvent' && WRITES.has(interaction)) {
        // The audit trail is written by the server only (participation rules: readOnly).
        res.status(403).type('application/fhir+json').send(JSON.stringify(forbidden('AuditEvent resources are written by the server only and can never be created, changed or deleted through the API')));
        return;
      }
    }
    next();
  };
}
