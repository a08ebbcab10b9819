/**
 * The CapabilityStatement (https://hl7.org/fhir/R4/capabilitystatement.html),
 * built from the route table: what a route serves is what it declares.
 */
import type { CapabilityStatement, CapabilityStatementRestResourceInteraction } from '@medplum/fhirtypes';
import { paramsFor } from '../store/search-parameters';
import { RESOURCE_TYPES } from './request';
import type { Route } from './router';

type TypeInteraction = CapabilityStatementRestResourceInteraction['code'];

/** FHIR's order of the type-level interactions (TypeRestfulInteraction), which the statement lists them in. */
const INTERACTION_ORDER: TypeInteraction[] = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'];

export function buildCapabilityStatement(routes: readonly Route[], baseUrl: string): CapabilityStatement {
  const typeInteractions = new Set(routes.flatMap((r) => (r.level === 'system' ? [] : r.interactions)) as TypeInteraction[]);
  const systemInteractions = [...new Set(routes.flatMap((r) => (r.level === 'system' ? r.interactions : [])))];
  const has = (flag: NonNullable<Route['declares']>) => routes.some((r) => r.declares === flag);
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-11-23',
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    implementation: { description: 'Forløp FHIR API', url: baseUrl },
    rest: [
      {
        mode: 'server',
        interaction: systemInteractions.map((code) => ({ code: code as 'transaction' })),
        resource: RESOURCE_TYPES.map((type) => ({
          type,
          versioning: 'versioned',
          readHistory: routes.some((r) => r.interactions.includes('vread')),
          updateCreate: has('updateCreate'),
          conditionalCreate: has('conditionalCreate'),
          conditionalUpdate: has('conditionalUpdate'),
          interaction: INTERACTION_ORDER.filter((code) => typeInteractions.has(code)).map((code) => ({ code })),
          searchParam: [
            { name: '_id', type: 'token' as const },
            { name: '_lastUpdated', type: 'date' as const },
            { name: '_include', type: 'special' as const },
            { name: '_revinclude', type: 'special' as const },
            ...paramsFor(type).map((p) => ({ name: p.code, type: p.type })),
          ],
        })),
      },
    ],
  };
}
