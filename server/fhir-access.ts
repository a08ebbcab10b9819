/**
 * Organisation-level access on reads (server/auth/organisation-access):
 * every resource a client gets back, by id, in a search page, an _include or
 * a history, is one its organisation takes part in, directly or through the
 * family (the family's Patient, CarePlan, CareTeam, EpisodeOfCare). Others
 * are withheld: a read by id answers 404, as if the resource did not exist,
 * so a client cannot learn of another organisation's families.
 */
import type { Request } from 'express';
import type { Resource } from '@medplum/fhirtypes';
import type { FhirStore } from '../fhir/store';
import { familyMembers, familyParticipants, filterAccessible, type AccessContext } from './auth';

const FAMILY_TYPES: [string, string][] = [
  ['Patient', '_id'],
  ['CarePlan', 'subject'],
  ['CareTeam', 'subject'],
  ['EpisodeOfCare', 'patient'],
];

export function readFilter(store: FhirStore, organisationsByOrgnr: Record<string, string>) {
  return (req: Request) => {
    const auth = req.forlop;
    if (!auth) return undefined;
    return async (resources: Resource[]): Promise<Resource[]> => {
      if (resources.length === 0) return resources;
      // Load the membership resources of every family these resources belong to, once.
      const families = new Map<string, Set<string>>();
      for (const member of new Set(resources.flatMap((r) => familyMembers(r as never)))) {
        const membership: Resource[] = [];
        for (const [type, param] of FAMILY_TYPES) {
          const value = param === '_id' ? member.split('/')[1] : member;
          membership.push(...(await store.search(type, { [param]: value, _count: '1000' })).resources);
        }
        families.set(member, familyParticipants(membership as never[], { organisationsByOrgnr }));
      }
      const context: AccessContext = { familyOrganisations: (patient) => families.get(patient) ?? [], organisationsByOrgnr };
      return filterAccessible(auth, resources as never[], context).allowed as Resource[];
    };
  };
}
