/**
 * The CapabilityStatement (https://hl7.org/fhir/R4/capabilitystatement.html),
 * built from the route table: what a route serves is what it declares; and,
 * when the API checks access, only the interactions some client can be
 * allowed (the caller's policy, `writable`), with the security service
 * clients authenticate with (SMART App Launch 2.x "Conformance").
 */
import type { CapabilityStatement, CapabilityStatementRestResourceInteraction, CapabilityStatementRestSecurity } from '@medplum/fhirtypes';
import { version } from '../../package.json';
import { paramsFor } from '../store/search-parameters';
import { RESOURCE_TYPES } from './request';
import type { Route } from './router';

type TypeInteraction = CapabilityStatementRestResourceInteraction['code'];

/** FHIR's order of the type-level interactions (TypeRestfulInteraction), which the statement lists them in. */
const INTERACTION_ORDER: TypeInteraction[] = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'];

const WRITES: readonly TypeInteraction[] = ['create', 'update', 'patch', 'delete'];

/**
 * What each parameter type takes beyond a plain value (R4 has no element for
 * modifiers or chains, so they are documented, as HAPI does). Only what the
 * store answers (fhir/store/search/query.ts modifierApplies), tested in
 * fhir/store/search/features.int.test.ts.
 */
const MODIFIERS: Record<string, string> = {
  token: 'Modifiers: :missing, :not. _sort by code.',
  reference: 'Modifiers: :missing, :[Type]; one level of chaining, e.g. subject:Patient.identifier=system|value.',
  date: 'Prefixes eq ne lt gt le ge sa eb (ap as eq). Modifier :missing. _sort by the earliest (or, descending, latest) moment.',
  uri: 'Modifier :missing.',
};

/** The result parameters (search.html#return) the store and REST layer answer. */
const RESULT_PARAMETERS = [
  { name: '_count', type: 'number' as const, documentation: 'Page size, 0 to 1000 (default 20); anything else is 400 unless Prefer: handling=lenient.' },
  { name: '_sort', type: 'special' as const, documentation: '_lastUpdated, _id and the date and token parameters, comma-separated, - for descending.' },
  { name: '_total', type: 'special' as const, documentation: 'accurate' },
  { name: '_summary', type: 'special' as const, documentation: 'count only.' },
  { name: '_elements', type: 'special' as const, documentation: 'Top-level elements; the matches are tagged SUBSETTED.' },
];

export interface CapabilityOptions {
  /** rest.security: how clients authenticate (absent when the API runs without authentication). */
  security?: CapabilityStatementRestSecurity;
  /** Whether some client can be allowed to write this type; absent: every type (no access checks). */
  writable?: (resourceType: string) => boolean;
}


export function buildCapabilityStatement(routes: readonly Route[], baseUrl: string, options: CapabilityOptions = {}): CapabilityStatement {
  const typeInteractions = new Set(routes.flatMap((r) => (r.level === 'system' ? [] : r.interactions)) as TypeInteraction[]);
  const systemInteractions = [...new Set(routes.flatMap((r) => (r.level === 'system' ? r.interactions : [])))];
  const has = (flag: NonNullable<Route['declares']>) => routes.some((r) => r.declares === flag);
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-11-23',
    publisher: 'Forløp',
    kind: 'instance',
    software: { name: 'Forløp', version },
    implementation: { description: 'Forløp FHIR API', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        ...(options.security ? { security: options.security } : {}),
        interaction: systemInteractions.map((code) => ({ code: code as 'transaction' })),
        resource: RESOURCE_TYPES.map((type) => {
          const writes = options.writable?.(type) ?? true;
          const offered = INTERACTION_ORDER.filter((code) => typeInteractions.has(code) && (writes || !WRITES.includes(code)));
          return {
            type,
            versioning: 'versioned' as const,
            readHistory: routes.some((r) => r.interactions.includes('vread')),
            updateCreate: writes && has('updateCreate'),
            conditionalCreate: writes && has('conditionalCreate'),
            conditionalUpdate: writes && has('conditionalUpdate'),
            conditionalDelete: 'not-supported' as const,
            interaction: offered.map((code) => ({ code })),
            searchParam: [
              { name: '_id', type: 'token' as const },
              { name: '_lastUpdated', type: 'date' as const },
              { name: '_include', type: 'special' as const },
              { name: '_revinclude', type: 'special' as const },
              ...RESULT_PARAMETERS,
              ...paramsFor(type).map((p) => ({ name: p.code, type: p.type, ...(type === 'AuditEvent' ? {} : { documentation: MODIFIERS[p.type] }) })),
            ],
          };
        }),
      },
    ],
  };
}
