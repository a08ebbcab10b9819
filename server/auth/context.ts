/**
 * Who is calling, as the rest of the server sees it: `req.forlop`.
 * Built from verified access-token claims. Organisation claims follow
 * HelseID: orgnr_parent is the legal entity (e.g. the municipality),
 * orgnr_child the unit (e.g. its helsestasjon).
 * https://utviklerportal.nhn.no/informasjonstjenester/helseid/tilgangsstyring/docs/claims/
 */
import { parseScopes, type SmartScope } from './scopes';

export const HELSEID_CLAIMS = {
  orgnrParent: 'helseid://claims/client/claims/orgnr_parent',
  orgnrChild: 'helseid://claims/client/claims/orgnr_child',
  hprNumber: 'helseid://claims/hpr/hpr_number',
} as const;

export interface ClaimNames {
  clientId: string;
  orgnrParent: string;
  orgnrChild: string;
  /** Forløp's role claim; HelseID has none, so production issuers map it from their own configuration. */
  role: string;
  hprNumber: string;
}

export const DEFAULT_CLAIM_NAMES: ClaimNames = {
  clientId: 'client_id',
  orgnrParent: HELSEID_CLAIMS.orgnrParent,
  orgnrChild: HELSEID_CLAIMS.orgnrChild,
  role: 'forlop_role',
  hprNumber: HELSEID_CLAIMS.hprNumber,
};

/** A known role; 'coordinator' spans its organisation's families (see server/auth/organisation-access.ts). */
export type Role = 'coordinator' | 'practitioner' | 'system';

export interface OrganisationContext {
  /** Organisation number (9 digits, Enhetsregisteret) the client acts for: the child unit if present, else the parent. */
  orgnr: string;
  /** The Organization resource it maps to, e.g. "Organization/sarpsborg-helsestasjon". */
  reference: string;
  /** The parent (legal entity) when the client acts for a unit of it. */
  parent?: { orgnr: string; reference?: string };
}

export interface UserContext {
  /** The token's `sub`: a pseudonymous identifier, never the national id. */
  subject: string;
  hprNumber?: string;
  /** Display name for AuditEvent.agent; never logged. */
  name?: string;
}

export interface ForlopAuthContext {
  clientId: string;
  organisation: OrganisationContext;
  scopes: SmartScope[];
  /** Raw scope strings as granted, for audit and error messages. */
  scopeStrings: string[];
  role: Role;
  user?: UserContext;
  /** 'DPoP' when the request proved possession of the token's key. */
  tokenType: 'Bearer' | 'DPoP';
}

declare global {
  // Express's Request is extended by declaration merging; this is the one place it happens.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      forlop?: ForlopAuthContext;
    }
  }
}

export class ClaimsError extends Error {
  override readonly name = 'ClaimsError';
}

const ROLES: readonly Role[] = ['coordinator', 'practitioner', 'system'];

export function buildAuthContext(
  claims: Record<string, unknown>,
  options: { organisations: Record<string, string>; claimNames?: Partial<ClaimNames>; tokenType: 'Bearer' | 'DPoP' },
): ForlopAuthContext {
  const names = { ...DEFAULT_CLAIM_NAMES, ...options.claimNames };
  const str = (name: string) => (typeof claims[name] === 'string' && claims[name] !== '' ? (claims[name] as string) : undefined);
  const clientId = str(names.clientId) ?? str('azp');
  if (!clientId) throw new ClaimsError(`The access token has no "${names.clientId}" claim naming the client.`);

  const parent = str(names.orgnrParent);
  const child = str(names.orgnrChild);
  const orgnr = child ?? parent;
  if (!orgnr) {
    throw new ClaimsError(`The access token names no organisation ("${names.orgnrChild}" or "${names.orgnrParent}"); the client must act for one.`);
  }
  const reference = options.organisations[orgnr];
  if (!reference) {
    throw new ClaimsError(`Organisation ${orgnr} is not registered with this Forløp server; ask the operator to map it to an Organization.`);
  }
  const organisation: OrganisationContext = { orgnr, reference };
  if (child && parent && parent !== child) organisation.parent = { orgnr: parent, reference: options.organisations[parent] };

  const scopeStrings = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
  const roleClaim = str(names.role);
  if (roleClaim !== undefined && !ROLES.includes(roleClaim as Role)) {
    throw new ClaimsError(`The access token's role "${roleClaim}" is not one of ${ROLES.join(', ')}.`);
  }
  const sub = str('sub');
  // Client-credentials tokens have sub = client id (RFC 9068 2.2); anything else is a person.
  const user: UserContext | undefined =
    sub && sub !== clientId ? { subject: sub, hprNumber: str(names.hprNumber), name: str('name') } : undefined;
  return {
    clientId,
    organisation,
    scopes: parseScopes(scopeStrings),
    scopeStrings,
    role: (roleClaim as Role | undefined) ?? (user ? 'practitioner' : 'system'),
    user,
    tokenType: options.tokenType,
  };
}
