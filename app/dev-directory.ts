/**
 * The development organisation directory: the demo organisations as FHIR
 * Organization resources, written to the store at start-up (`forlop start`
 * in development, `forlop demo`, the end-to-end tests), so GET
 * /fhir/Organization answers with them, examples can point at ids that exist,
 * and the organisation hierarchy (Organization.partOf) that lets a kommune's
 * coordinator see its units' families comes from the store as in production.
 *
 * Each has its organisation number (Enhetsregisteret, fictitious: app/dev-idp.ts
 * DEV_ORGANISATIONS), its parent, and the pathway services it delivers
 * (Organization.type in Forløp's service code system: the services of the
 * definitions, as config.ts DEV_SERVICE_ORGANISATIONS maps them).
 */
import type { Organization } from '@medplum/fhirtypes';
import { OperationOutcomeError } from '../fhir/outcome';
import type { FhirStore } from '../fhir/store';
import { ORGNR_SYSTEM } from '../server/audit';
import { DEV_SERVICE_ORGANISATIONS } from './config';
import { DEV_ORGANISATIONS } from './dev-idp';

/** Organization.type codes: the pathway services an organisation delivers (the definitions' service ids). */
export const SERVICE_SYSTEM = 'https://forlop.no/fhir/CodeSystem/service';

const UNITS: Record<string, { name: string; partOf?: string }> = {
  'sarpsborg-kommune': { name: 'Sarpsborg kommune' },
  'sarpsborg-helsestasjon': { name: 'Sarpsborg helsestasjon', partOf: 'sarpsborg-kommune' },
  'fredrikstad-kommune': { name: 'Fredrikstad kommune' },
  'fredrikstad-helsestasjon': { name: 'Fredrikstad helsestasjon', partOf: 'fredrikstad-kommune' },
  'sykehuset-ostfold': { name: 'Sykehuset Østfold HF' },
  'ostfold-familieambulatorium': { name: 'Familieambulatoriet, Sykehuset Østfold', partOf: 'sykehuset-ostfold' },
  'sykehuset-ostfold-dps': { name: 'DPS (psykisk helsevern for voksne), Sykehuset Østfold', partOf: 'sykehuset-ostfold' },
};

export function devDirectory(): Organization[] {
  const orgnrOf = new Map(Object.entries(DEV_ORGANISATIONS).map(([orgnr, ref]) => [ref as string, orgnr]));
  return Object.entries(UNITS).map(([id, unit]) => {
    const reference = `Organization/${id}`;
    const services = Object.entries(DEV_SERVICE_ORGANISATIONS).filter(([, org]) => org === reference).map(([service]) => service).sort();
    const orgnr = orgnrOf.get(reference);
    return {
      resourceType: 'Organization',
      id,
      active: true,
      ...(orgnr ? { identifier: [{ system: ORGNR_SYSTEM, value: orgnr }] } : {}),
      name: unit.name,
      ...(services.length ? { type: services.map((code) => ({ coding: [{ system: SERVICE_SYSTEM, code }] })) } : {}),
      ...(unit.partOf ? { partOf: { reference: `Organization/${unit.partOf}` } } : {}),
    };
  });
}

/** Writes the directory where it is missing or differs (a new version only then), so a restart changes nothing. */
export async function loadDevDirectory(store: FhirStore): Promise<number> {
  let written = 0;
  for (const org of devDirectory()) {
    const current = await store.read<Organization>('Organization', org.id!).catch((error: unknown) => {
      // Not there yet (or deleted): written below. Anything else is a real failure.
      if (error instanceof OperationOutcomeError && (error.status === 404 || error.status === 410)) return undefined;
      throw error;
    });
    const { meta: _meta, ...stored } = current ?? ({} as Organization);
    if (current && JSON.stringify(stored) === JSON.stringify(org)) continue;
    await store.update(org);
    written++;
  }
  return written;
}
