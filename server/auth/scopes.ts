/**
 * SMART on FHIR scopes, v2 syntax with v1 equivalents.
 * https://build.fhir.org/ig/HL7/smart-app-launch/scopes-and-launch-context.html
 *
 *   system/Task.rs      v2: context / resource type . permissions (c r u d s, in that order)
 *   system/*.cruds      any resource type
 *   user/Encounter.read v1: read = rs, write = cud, * = cruds
 *
 * Forløp grants `system/` (backend services, the HelseID client-credentials
 * case) and `user/` scopes. `patient/` scopes need a patient launch context,
 * which Forløp does not offer, so they grant nothing. Scopes with query
 * parameters (v2 fine-grained, `?category=...`) also grant nothing: we cannot
 * prove the restriction holds for every response, and granting the broader
 * access would widen what the client was given.
 */

export type Interaction = 'create' | 'read' | 'vread' | 'update' | 'patch' | 'delete' | 'search' | 'history' | 'operation';
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';
export type ScopeContext = 'patient' | 'user' | 'system';

export interface SmartScope {
  /** The scope string as granted. */
  raw: string;
  context: ScopeContext;
  /** A resource type name, or '*'. */
  resourceType: string;
  permissions: ReadonlySet<Permission>;
  /** Query restriction of a v2 fine-grained scope, if any. */
  query?: string;
}

/**
 * Permissions an interaction needs (SMART v2 "Scopes for requesting FHIR
 * resources"): r covers read, vread and instance history; s covers search;
 * u covers update and patch. A FHIR operation may read and change data, so
 * without a narrower mapping from its route it needs both r and u.
 */
export const interactionPermissions: Record<Interaction, readonly Permission[]> = {
  create: ['c'],
  read: ['r'],
  vread: ['r'],
  history: ['r'],
  update: ['u'],
  patch: ['u'],
  delete: ['d'],
  search: ['s'],
  operation: ['r', 'u'],
};

const V1_PERMISSIONS: Record<string, Permission[]> = { read: ['r', 's'], write: ['c', 'u', 'd'], '*': ['c', 'r', 'u', 'd', 's'] };
const SCOPE_PATTERN = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]+)\.([a-z*]+)(?:\?(.+))?$/;
const V2_ORDER = 'cruds';

/** Parses one scope; returns undefined for scopes that are not SMART resource scopes (openid, launch, ...). */
export function parseScope(raw: string): SmartScope | undefined {
  const match = SCOPE_PATTERN.exec(raw);
  if (!match) return undefined;
  const [, context, resourceType, perms, query] = match;
  let permissions: Permission[] | undefined = V1_PERMISSIONS[perms];
  if (!permissions) {
    // v2 permissions must appear in the order c, r, u, d, s with no repeats.
    let last = -1;
    for (const p of perms) {
      const index = V2_ORDER.indexOf(p);
      if (index <= last) return undefined;
      last = index;
    }
    permissions = [...perms] as Permission[];
  } else if (query) {
    return undefined; // v1 scopes have no query form
  }
  return { raw, context: context as ScopeContext, resourceType, permissions: new Set(permissions), query };
}

/** Parses a space-separated scope claim (RFC 6749 3.3) or an array of scopes. */
export function parseScopes(scope: string | readonly string[] | undefined): SmartScope[] {
  const list = typeof scope === 'string' ? scope.split(' ') : (scope ?? []);
  return list.filter(Boolean).flatMap((s) => parseScope(s) ?? []);
}

/** True when the granted scopes allow `interaction` on `resourceType`. */
export function allows(scopes: readonly SmartScope[], resourceType: string, interaction: Interaction): boolean {
  const needed = interactionPermissions[interaction];
  const usable = scopes.filter(
    (s) => s.context !== 'patient' && s.query === undefined && (s.resourceType === '*' || s.resourceType === resourceType),
  );
  // Every needed permission must be granted, possibly by different scopes (system/Task.r + system/Task.u).
  return needed.every((p) => usable.some((s) => s.permissions.has(p)));
}

/** The scope a client should ask for to perform `interaction` on `resourceType`, for error messages. */
export function requiredScope(resourceType: string, interaction: Interaction): string {
  return `system/${resourceType}.${interactionPermissions[interaction].join('')}`;
}
