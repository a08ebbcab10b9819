/**
 * What the rest of Forløp needs of a FHIR server: our own store
 * (./store) implements it, and so does the client of an external FHIR
 * server, so activities and handlers work against either.
 */
import type { Bundle, Resource } from '@medplum/fhirtypes';

export interface FhirRepository {
  read<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<T>;
  /** An atomic transaction Bundle: every entry is stored or none is. */
  transaction(bundle: Bundle): Promise<Bundle>;
  search(resourceType: string, params: Record<string, string | string[]>): Promise<{ resources: Resource[] }>;
}
