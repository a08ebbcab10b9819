/**
 * Small pieces the effects activities share: reading a resource that may not
 * be there (what makes "create once" idempotent), and the organisation that
 * delivers a service of the definition for this family.
 */
import type { Organization, Reference, Resource } from '@medplum/fhirtypes';
import type { FhirRepository } from '../fhir/repository';
import type { Plan } from '../pathways/plan';
import type { FamilyRefs } from '../workflows/pathway-events';

/** The resource, or undefined when it does not exist (404) or was deleted (410). */
export async function readIfPresent(fhir: FhirRepository, resourceType: Resource['resourceType'], id: string): Promise<Resource | undefined> {
  try {
    return await fhir.read(resourceType, id);
  } catch (error) {
    if ([404, 410].includes((error as { status?: number }).status ?? 0)) return undefined;
    throw error;
  }
}

/** The family's organisation for a service when it is known, otherwise the service's name. */
export function serviceParty(plan: Plan, refs: FamilyRefs, service: string): Reference<Organization> {
  const reference = refs.services?.[service];
  return reference ? { reference, display: plan.services[service]?.title } : { display: plan.services[service]?.title ?? service };
}
