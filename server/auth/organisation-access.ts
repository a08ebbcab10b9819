/**
 * Organisation-level access decisions (issue #6): a client sees and changes
 * only the families and handoffs its organisation takes part in, as the
 * family's municipality, a Task's requester or owner, a CarePlan's care team,
 * and so on (participation-rules.ts). A coordinator spans its own
 * organisation's families: every unit under it (Organization.partOf).
 *
 * Pure functions: the FHIR store supplies what they need to know beyond the
 * resource itself (which organisations take part in a family; the
 * organisation hierarchy), so the same rules serve read-by-id, search
 * filtering, _include/_revinclude, history and writes.
 */
import type { ForlopAuthContext } from './context';
import { participationRule } from './participation-rules';

/** Enhetsregisteret organisation numbers (no-basis identifier system). */
const ORGNR_SYSTEM = 'urn:oid:2.16.578.1.12.4.1.4.101';

type Json = Record<string, unknown>;

export interface AccessContext {
  /** Organisation references taking part in a family, keyed by a family member's Patient reference. */
  familyOrganisations?: (patientReference: string) => Iterable<string>;
  /** The parent of an organisation (Organization.partOf), for the coordinator role. */
  parentOf?: (organisationReference: string) => string | undefined;
  /** Organisation number -> Organization reference, for references given by identifier. */
  organisationsByOrgnr?: Record<string, string>;
}

export type AccessBasis = 'shared' | 'participant' | 'family' | 'coordinator';

export interface AccessDecision {
  allowed: boolean;
  basis?: AccessBasis;
  /** Why, in words safe for an OperationOutcome and the audit log. */
  reason: string;
}

/** The steps of each element path the participation rules use, split once. */
const pathSteps = new Map<string, string[]>();

/**
 * Values at a dotted element path, flattening arrays ("participant.member").
 * Every read and write checks several paths of each resource it touches,
 * so this walks them in plain loops.
 */
function valuesAt(resource: Json, path: string): unknown[] {
  let steps = pathSteps.get(path);
  if (!steps) pathSteps.set(path, (steps = path.split('.').filter(Boolean)));
  let current: unknown[] = [resource];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const value of current) {
      const found = value && typeof value === 'object' ? (value as Json)[step] : undefined;
      if (Array.isArray(found)) next.push(...found);
      else if (found !== undefined) next.push(found);
    }
    current = next;
  }
  return current;
}

function referenceString(value: unknown, organisationsByOrgnr: Record<string, string> | undefined): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const ref = value as { reference?: unknown; identifier?: { system?: unknown; value?: unknown } };
  if (typeof ref.reference === 'string') return ref.reference.replace(/\/_history\/.*$/, '');
  if (ref.identifier?.system === ORGNR_SYSTEM && typeof ref.identifier.value === 'string') {
    return organisationsByOrgnr?.[ref.identifier.value] ?? `Organization?identifier=${ORGNR_SYSTEM}|${ref.identifier.value}`;
  }
  return undefined;
}

/** A contained resource referenced as "#id". */
function contained(resource: Json, reference: string): Json | undefined {
  const list = Array.isArray(resource.contained) ? (resource.contained as Json[]) : [];
  return list.find((c) => `#${c.id as string}` === reference);
}

/** The Organization references that take part in a resource directly (contained CareTeams are followed). */
export function participatingOrganisations(resource: Json, context: Pick<AccessContext, 'organisationsByOrgnr'> = {}): Set<string> {
  const result = new Set<string>();
  const collect = (target: Json, within: Json) => {
    const rule = participationRule(target.resourceType as string);
    for (const path of rule?.organisations ?? []) {
      for (const value of valuesAt(target, path)) {
        const ref = referenceString(value, context.organisationsByOrgnr);
        if (!ref) continue;
        const inner = ref.startsWith('#') ? contained(within, ref) : undefined;
        if (inner) collect(inner, within);
        else if (ref.startsWith('Organization/') || ref.startsWith('Organization?')) result.add(ref);
      }
    }
  };
  collect(resource, resource);
  if (participationRule(resource.resourceType as string)?.criteria && typeof resource.criteria === 'string') {
    for (const value of new URLSearchParams(resource.criteria.split('?')[1] ?? '').values()) {
      for (const part of value.split(',')) if (/^Organization\/[A-Za-z0-9\-.]{1,64}$/.test(part)) result.add(part);
    }
  }
  return result;
}

/** The family members (Patient references) a resource is about. */
export function familyMembers(resource: Json): string[] {
  const rule = participationRule(resource.resourceType as string);
  if (!rule || rule.family === undefined) return [];
  if (rule.family === '') return typeof resource.id === 'string' ? [`Patient/${resource.id}`] : [];
  return valuesAt(resource, rule.family)
    .map((v) => referenceString(v, undefined))
    .filter((r): r is string => !!r && r.startsWith('Patient/'));
}

/**
 * Resource types whose participants take part in the whole family. A Task or
 * ServiceRequest gives access to itself only: an organisation offered a
 * handoff sees the handoff, and joins the family (and sees its records) when
 * it is added to the CarePlan's care team on acceptance. Data minimisation:
 * GDPR art. 5(1)(c), helsepersonelloven § 45 ("nødvendige og relevante").
 */
export const FAMILY_MEMBERSHIP_TYPES: ReadonlySet<string> = new Set(['Patient', 'CarePlan', 'CareTeam', 'EpisodeOfCare']);

/**
 * The organisations that take part in a family: the union of participants
 * over the family's membership resources (FAMILY_MEMBERSHIP_TYPES; others are
 * ignored). The store computes this per family and passes it as
 * `familyOrganisations`.
 */
/**
 * A CareTeam's participants whose participation has ended (period.end set, as at discharge:
 * events/care-team.ts) no longer make their organisations members of the family.
 */
function current(resource: Json): Json {
  if (resource.resourceType !== 'CareTeam' || !Array.isArray(resource.participant)) return resource;
  return { ...resource, participant: (resource.participant as Json[]).filter((p) => !(p.period as { end?: string } | undefined)?.end) };
}

export function familyParticipants(familyResources: Iterable<Json>, context: Pick<AccessContext, 'organisationsByOrgnr'> = {}): Set<string> {
  const result = new Set<string>();
  for (const resource of familyResources) {
    if (!FAMILY_MEMBERSHIP_TYPES.has(resource.resourceType as string)) continue;
    for (const org of participatingOrganisations(current(resource), context)) result.add(org);
  }
  return result;
}

/** The organisations the caller acts as: its own, and for a coordinator every unit under it. */
function actsFor(auth: Pick<ForlopAuthContext, 'organisation' | 'role'>, candidate: string, parentOf: AccessContext['parentOf']): AccessBasis | undefined {
  if (candidate === auth.organisation.reference) return 'participant';
  if (auth.role !== 'coordinator' || !parentOf) return undefined;
  // Walk up from the candidate; bounded so a cycle in partOf cannot hang the request.
  let current: string | undefined = candidate;
  for (let depth = 0; depth < 10 && current; depth++) {
    current = parentOf(current);
    if (current === auth.organisation.reference) return 'coordinator';
  }
  return undefined;
}

/** Decides whether the caller's organisation takes part in `resource`. */
export function organisationAccess(
  auth: Pick<ForlopAuthContext, 'organisation' | 'role'>,
  resource: Json,
  context: AccessContext = {},
): AccessDecision {
  const type = resource.resourceType as string;
  const rule = participationRule(type);
  if (!rule) return { allowed: false, reason: `${type} resources are not available through this API.` };
  if (rule.shared) return { allowed: true, basis: 'shared', reason: `${type} is shared directory or definition data.` };

  for (const org of participatingOrganisations(resource, context)) {
    const basis = actsFor(auth, org, context.parentOf);
    if (basis) return { allowed: true, basis, reason: `${auth.organisation.reference} takes part in this ${type}${basis === 'coordinator' ? ' through one of its units' : ''}.` };
  }
  for (const member of familyMembers(resource)) {
    for (const org of context.familyOrganisations?.(member) ?? []) {
      const basis = actsFor(auth, org, context.parentOf);
      if (basis) return { allowed: true, basis: basis === 'coordinator' ? 'coordinator' : 'family', reason: `${auth.organisation.reference} takes part in the family this ${type} belongs to.` };
    }
  }
  return { allowed: false, reason: `Organisation ${auth.organisation.orgnr} takes no part in this ${type} or its family.` };
}

/**
 * A write (create, update, patch, delete) is allowed when the caller takes
 * part in the resource as stored before AND as it will be after: a client can
 * neither change another organisation's resource nor hand its own away to an
 * organisation-less state or into a family it has no part in.
 */
export function organisationWriteAccess(
  auth: Pick<ForlopAuthContext, 'organisation' | 'role'>,
  change: { before?: Json; after?: Json },
  context: AccessContext = {},
): AccessDecision {
  for (const [label, version] of [['stored', change.before], ['new', change.after]] as const) {
    if (!version) continue;
    const type = version.resourceType as string;
    const rule = participationRule(type);
    if (rule?.shared) {
      return { allowed: false, reason: `${type} is shared directory data and is maintained by the operator, not through client writes.` };
    }
    if (rule?.readOnly) return { allowed: false, reason: `${type} resources are written by the server only and can never be changed or deleted.` };
    const decision = organisationAccess(auth, version, context);
    if (!decision.allowed) return { allowed: false, reason: `The ${label} version: ${decision.reason}` };
  }
  if (!change.before && !change.after) return { allowed: false, reason: 'Nothing to write.' };
  return { allowed: true, basis: organisationAccess(auth, (change.after ?? change.before)!, context).basis, reason: 'The caller takes part before and after the change.' };
}

/**
 * Why a write would move a resource out of the writer's reach, or undefined
 * when it does not (issue #20): an organisation the new version names that
 * the stored one did not (a Patient's managingOrganization, a Task's
 * requester or owner) is taken in only while the writer still takes part in
 * the new version itself, as the requester of a handoff Task does. Otherwise
 * a client could plant records in another organisation's caseload and
 * subscription feed; moving a family to another organisation is a handoff
 * (a Task the receiving organisation accepts), not a write. The writer's own
 * parent organisation counts as its own here.
 */
export function moveProblem(
  auth: Pick<ForlopAuthContext, 'organisation' | 'role'>,
  change: { before?: Json; after?: Json },
  context: AccessContext = {},
): string | undefined {
  if (!change.after || participationRule(change.after.resourceType as string)?.shared) return undefined;
  const before = change.before ? participatingOrganisations(change.before, context) : new Set<string>();
  const after = participatingOrganisations(change.after, context);
  // The writer's own parent organisation (its municipality) is no other organisation: a helsestasjon
  // enrols a family in its municipality's EpisodeOfCare.
  const own = (org: string) => actsFor(auth, org, context.parentOf) !== undefined || org === auth.organisation.parent?.reference;
  const added = [...after].filter((org) => !before.has(org) && !own(org));
  if (added.length === 0 || [...after].some((org) => actsFor(auth, org, context.parentOf))) return undefined;
  return `This write would give the ${change.after.resourceType as string} to ${added.join(', ')} without ${auth.organisation.reference ?? auth.organisation.orgnr} taking part in it any more; a write must leave the resource in the writer's reach. Hand a family over with a Task the receiving organisation accepts.`;
}

/** The patients a Patient's new version links to (Patient.link.other) that the stored version did not. */
export function newPatientLinks(change: { before?: Json; after?: Json }): string[] {
  if (change.after?.resourceType !== 'Patient') return [];
  const links = (version: Json | undefined) =>
    new Set(valuesAt(version ?? {}, 'link.other').map((v) => referenceString(v, undefined)).filter((r): r is string => !!r && r.startsWith('Patient/')));
  const before = links(change.before);
  return [...links(change.after)].filter((r) => !before.has(r));
}

/**
 * The other organisations whose data the caller receives with `resource`:
 * its participants other than the caller's own. Non-empty means data crosses
 * organisations, and the AuditEvent records the legal basis
 * (server/audit describeAudit({ crossOrganisation })).
 */
export function otherOrganisations(
  auth: Pick<ForlopAuthContext, 'organisation' | 'role'>,
  resource: Json,
  context: AccessContext = {},
): string[] {
  const rule = participationRule(resource.resourceType as string);
  if (!rule || rule.shared) return [];
  return [...participatingOrganisations(resource, context)].filter((org) => !actsFor(auth, org, context.parentOf));
}

/**
 * Splits resources (a search page with its _include/_revinclude entries, a
 * history, a transaction response) into those the caller may see and the
 * count withheld. The store should filter in its query so paging and totals
 * stay right; this is the last check before anything leaves the server.
 */
export function filterAccessible<T extends Json>(
  auth: Pick<ForlopAuthContext, 'organisation' | 'role'>,
  resources: readonly T[],
  context: AccessContext = {},
): { allowed: T[]; withheld: number } {
  const allowed = resources.filter((resource) => organisationAccess(auth, resource, context).allowed);
  return { allowed, withheld: resources.length - allowed.length };
}
