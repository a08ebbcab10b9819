/**
 * Organisation-level access on reads (server/auth/organisation-access):
 * every resource a client gets back, by id, in a search page, an _include or
 * a history, is one its organisation takes part in, directly or through the
 * family (the family's Patient, CarePlan, CareTeam, EpisodeOfCare). Others
 * are withheld: a read by id answers 404, as if the resource did not exist,
 * so a client cannot learn of another organisation's families. Writes must
 * keep the caller a participant before and after the change.
 */
import type { Request, Response } from 'express';
import type { Resource } from '@medplum/fhirtypes';
import type { AccessScope, FhirStore } from '../fhir/store';

/** Enhetsregisteret organisation numbers (no-basis identifier system). */
const ORGNR_SYSTEM = 'urn:oid:2.16.578.1.12.4.1.4.101';
import { describeAudit } from './audit';
import { FAMILY_MEMBERSHIP_TYPES, familyMembers, familyParticipants, filterAccessible, moveProblem, newPatientLinks, organisationAccess, organisationWriteAccess, otherOrganisations, type AccessContext } from './auth';
import { forbidden, OperationOutcomeError } from '../fhir/outcome';
import type { OrganisationHierarchy } from './auth/organisation-hierarchy';

/** The membership resources that point at a family member (the Patient itself is the other). */
const FAMILY_LINKS = [
  { resourceType: 'CarePlan', param: 'subject' },
  { resourceType: 'CareTeam', param: 'subject' },
  { resourceType: 'EpisodeOfCare', param: 'patient' },
];

/**
 * The organisations taking part in each family, from its membership
 * resources, all families in one statement.
 */
async function familiesOf(store: FhirStore, patients: Iterable<string>, organisationsByOrgnr: Record<string, string>): Promise<Map<string, Set<string>>> {
  const list = [...new Set(patients)];
  const byFamily = new Map<string, Resource[]>(list.map((patient) => [patient, []]));
  for (const resource of await store.linked(list, FAMILY_LINKS)) {
    for (const member of familyMembers(resource as never)) byFamily.get(member)?.push(resource);
  }
  return new Map([...byFamily].map(([patient, membership]) => [patient, familyParticipants(membership as never[], { organisationsByOrgnr })]));
}

/**
 * The organisations of each family, cached between requests. Looking a family
 * up costs a statement that returns its membership resources (about 0.6 ms of
 * CPU on PGlite, more than the read it guards); they change seldom (a new care team,
 * a moved family). An entry is used only while the store's write generation
 * of the membership types is the one read before the entry was looked up, so
 * a change made by any process (the worker writes CarePlans) is seen by the
 * next request, as without the cache. The generation a request checks is one
 * read after the request began (its mark): on PostgreSQL, mostly the one its
 * own read or search brought along, or another request's sent since.
 *
 * Reads and writes share it. A write check is no staler with it than without:
 * the lookup was never part of the write's transaction either, so both see
 * every membership change committed before the request asked; a write that
 * changes a family's members bumps the generation in its own statement.
 */
class FamilyCache {
  private generation = -1;
  private readonly entries = new Map<string, Set<string>>();

  constructor(
    private readonly store: FhirStore,
    readonly organisationsByOrgnr: Record<string, string>,
    private readonly hierarchy?: OrganisationHierarchy,
    private readonly maxEntries = 10_000,
  ) {}

  /** Organization.partOf, for a coordinator (whose organisation spans its units); others need none. */
  async parentOf(auth: NonNullable<Request['forlop']>): Promise<AccessContext['parentOf']> {
    return auth.role === 'coordinator' ? this.hierarchy?.current() : undefined;
  }

  /** A mark to pass to organisations(): a request takes one when it starts. */
  mark(): number {
    return this.store.generationMark();
  }

  /** The organisations of each family, as they were when the request took its `mark` or later. */
  async organisations(patients: string[], mark: number): Promise<Map<string, Set<string>>> {
    if (patients.length === 0) return new Map();
    const generation = await this.store.writeGeneration([...FAMILY_MEMBERSHIP_TYPES], mark);
    if (generation === undefined) return familiesOf(this.store, patients, this.organisationsByOrgnr);
    if (generation > this.generation) {
      this.entries.clear();
      this.generation = generation;
    }
    // A generation older than the cache's (a read that raced a newer one) neither uses nor fills it.
    const current = generation === this.generation;
    const found = new Map<string, Set<string>>();
    const missing: string[] = [];
    for (const patient of new Set(patients)) {
      const entry = current ? this.entries.get(patient) : undefined;
      if (entry) found.set(patient, entry);
      else missing.push(patient);
    }
    if (missing.length === 0) return found;
    const loaded = await familiesOf(this.store, missing, this.organisationsByOrgnr);
    for (const [patient, organisations] of loaded) {
      found.set(patient, organisations);
      if (generation !== this.generation) continue;
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(patient, organisations);
    }
    return found;
  }
}

/** Organisation-level access over one store: the read filter and the write check, sharing one family cache, and the store's search scope. */
export function organisationAccessChecks(store: FhirStore, organisationsByOrgnr: Record<string, string>, hierarchy?: OrganisationHierarchy) {
  const families = new FamilyCache(store, organisationsByOrgnr, hierarchy);
  return { readFilter: readFilter(families), writeCheck: writeCheck(families), searchScope: searchScope(organisationsByOrgnr, hierarchy) };
}

/**
 * The caller as the store's queries see it (fhir/store/access.ts): its organisation's
 * reference and every way a resource may name it by organisation number, and for a
 * coordinator, the same for each of its organisation's units (Organization.partOf), as
 * the read filter's actsFor counts them.
 */
function searchScope(organisationsByOrgnr: Record<string, string>, hierarchy?: OrganisationHierarchy) {
  return async (req: Request): Promise<AccessScope | undefined> => {
    const auth = req.forlop;
    if (!auth) return undefined;
    const reference = auth.organisation.reference;
    if (!reference) return { organisations: [] };
    const units = auth.role === 'coordinator' && hierarchy ? await hierarchy.unitsOf(reference) : [];
    const references = [reference, ...units];
    const orgnrs = Object.entries(organisationsByOrgnr).filter(([, ref]) => references.includes(ref)).map(([orgnr]) => orgnr);
    return { organisations: [...references, ...[...new Set([auth.organisation.orgnr, ...orgnrs])].map((o) => `Organization?identifier=${ORGNR_SYSTEM}|${o}`)] };
  };
}

/**
 * What the request's AuditEvent records of resources handed out: each of them, the family
 * members they are about (the no-basis patient slice, so `AuditEvent?patient=` finds every
 * read of a patient's records, not only of the Patient itself), and when they name other
 * organisations than the caller's (a Task's owner, a CarePlan's care team), those
 * organisations, so the AuditEvent carries the legal basis for disclosing their data.
 */
function recordDisclosure(res: Response, auth: NonNullable<Request['forlop']>, resources: Resource[], organisationsByOrgnr: Record<string, string>, parentOf?: AccessContext['parentOf']): void {
  if (resources.length === 0) return;
  const organisations = new Set(resources.flatMap((r) => otherOrganisations(auth, r as never, { organisationsByOrgnr, parentOf })));
  describeAudit(res, {
    entities: [...resources.map((r) => `${r.resourceType}/${r.id}`), ...resources.flatMap((r) => familyMembers(r as never))],
    ...(organisations.size > 0 ? { crossOrganisation: { organisations: [...organisations] } } : {}),
  });
}

/** The resources the caller may see: those it takes part in directly, then those it takes part in through their family. */
async function visibleTo(auth: NonNullable<Request['forlop']>, familyCache: FamilyCache, mark: number, resources: Resource[], parentOf: AccessContext['parentOf']): Promise<Resource[]> {
  const { organisationsByOrgnr } = familyCache;
  if (resources.length === 0) return resources;
  // Taking part in a resource directly needs no lookup; the family only ever adds access,
  // so the families are loaded (once, together) only for the resources that are not yet allowed.
  const direct = new Set(filterAccessible(auth, resources as never[], { organisationsByOrgnr, parentOf }).allowed as Resource[]);
  const pending = resources.filter((r) => !direct.has(r));
  const members = pending.flatMap((r) => familyMembers(r as never));
  if (members.length === 0) return [...direct];
  const families = await familyCache.organisations(members, mark);
  const context: AccessContext = { familyOrganisations: (patient) => families.get(patient) ?? [], organisationsByOrgnr, parentOf };
  const viaFamily = new Set(filterAccessible(auth, pending as never[], context).allowed as Resource[]);
  return resources.filter((r) => direct.has(r) || viaFamily.has(r));
}

/** With `res`, what the filter lets through is recorded in the request's AuditEvent (recordDisclosure). */
function readFilter(familyCache: FamilyCache) {
  return (req: Request, res?: Response) => {
    const auth = req.forlop;
    if (!auth) return undefined;
    const mark = familyCache.mark();
    return async (resources: Resource[]): Promise<Resource[]> => {
      const parentOf = await familyCache.parentOf(auth);
      const visible = await visibleTo(auth, familyCache, mark, resources, parentOf);
      if (res) recordDisclosure(res, auth, visible, familyCache.organisationsByOrgnr, parentOf);
      return visible;
    };
  };
}

/**
 * Write checks: the caller must take part in the resource before and after the change. With
 * `res`, the request's AuditEvent names the family members the change is about, allowed or not.
 */
function writeCheck(familyCache: FamilyCache) {
  const { organisationsByOrgnr } = familyCache;
  return (req: Request, res?: Response) => {
    const auth = req.forlop;
    if (!auth) return undefined;
    const mark = familyCache.mark();
    return async (change: { before?: Resource; after?: Resource }): Promise<void> => {
      const members = new Set([change.before, change.after].flatMap((r) => (r ? familyMembers(r as never) : [])));
      if (res && members.size > 0) describeAudit(res, { entities: [...members] });
      const linked = newPatientLinks(change as never);
      const families = await familyCache.organisations([...members, ...linked], mark);
      const context: AccessContext = { familyOrganisations: (patient) => families.get(patient) ?? [], organisationsByOrgnr, parentOf: await familyCache.parentOf(auth) };
      const decision = organisationWriteAccess(auth, change as never, context);
      if (!decision.allowed) throw new OperationOutcomeError(forbidden(decision.reason), 403);
      const move = moveProblem(auth, change as never, context);
      if (move) throw new OperationOutcomeError(forbidden(move), 403);
      // A birth is registered by a Patient linking to the mother (Patient.link.other); the family's
      // workflow takes it as the birth. Only an organisation taking part in the mother's family may
      // register it; a mother hidden from the caller answers as one that does not exist.
      for (const mother of linked) {
        if (organisationAccess(auth, { resourceType: 'Patient', id: mother.split('/')[1] } as never, context).allowed) continue;
        throw new OperationOutcomeError(forbidden(`Patient.link.other names ${mother}, a patient whose family organisation ${auth.organisation.orgnr} takes no part in; only the family's organisations may register her child.`), 403);
      }
      // A client cannot join a family by writing itself into it: a family that
      // already has organisations must already count the caller among them.
      // Except where it already takes part: the owner of a handoff Task moves
      // it (received, accepted...) without being a member of the family, as
      // long as the resource stays about the same family and is not one that
      // makes its organisations members (FAMILY_MEMBERSHIP_TYPES).
      const already = new Set(change.before && !FAMILY_MEMBERSHIP_TYPES.has(change.before.resourceType) ? familyMembers(change.before as never) : []);
      for (const member of change.after ? familyMembers(change.after as never) : []) {
        if ((families.get(member)?.size ?? 0) === 0 || already.has(member)) continue;
        const family = organisationAccess(auth, { resourceType: 'Patient', id: member.split('/')[1] } as never, context);
        if (!family.allowed) throw new OperationOutcomeError(forbidden(`Organisation ${auth.organisation.orgnr} takes no part in this family and cannot add to it; the family's organisations must hand it over (a Task) first.`), 403);
      }
    };
  };
}
