/**
 * AuditEvents in a table of their own (fhir.audit_event, store migration 6).
 *
 * The audit trail stores one per API request, and they are never changed or
 * deleted. Stored like every other resource they cost a current row, search
 * index rows in two tables and their FHIRPath evaluation at every request:
 * the largest part of what audit costs a read (docs/security.md, Cost). Here
 * an AuditEvent is one row whose columns hold the values of its search
 * parameters (date, type, patient), taken straight from the resource.
 *
 * Those values must be what the search parameters' FHIRPath expressions
 * give, so that a search finds the same AuditEvents either way;
 * audit-events.test.ts compares them for every kind of event the audit
 * trail builds and for odd references.
 */
import type { AuditEvent, Reference } from '@medplum/fhirtypes';
import { badRequest, OperationOutcomeError } from '../outcome';
import { participatingOrganisations } from '../../server/auth/organisation-access';
import { dateRange } from './indexing';

export const AUDIT_EVENT = 'AuditEvent';

export interface AuditColumns {
  /** AuditEvent.recorded (search parameter date), an instant. */
  recorded: string;
  /** AuditEvent.type (search parameter type); both null when it has no code. */
  typeSystem: string | null;
  typeCode: string | null;
  /** References that resolve to a Patient in agent.who and entity.what (search parameter patient). */
  patients: string[];
  /** The organisations in agent.who and entity.what, for organisation-level access (access.ts). */
  organisations: string[];
}

/**
 * Whether FHIRPath's resolve() makes this reference a Patient, as
 * @medplum/core reads it: the type is what comes before "?" in a conditional
 * reference, else before the first "/" (so an absolute URL is not one).
 */
function resolvesToPatient(reference: string): boolean {
  if (reference.includes('?')) return reference.split('?')[0] === 'Patient';
  return reference.includes('/') && reference.split('/')[0] === 'Patient';
}

export function auditColumns(event: AuditEvent): AuditColumns {
  // An instant (FHIR's type for it): then the date parameter's range is that one point.
  const range = dateRange(event.recorded);
  const recorded = range?.low;
  if (!recorded || range.high !== recorded) throw new OperationOutcomeError(badRequest('An AuditEvent needs the instant it was recorded', 'AuditEvent.recorded'), 400);
  const references = [...(event.agent ?? []).map((a) => a.who), ...(event.entity ?? []).map((e) => e.what)];
  const patients = new Set(
    references
      .map((r: Reference | undefined) => r?.reference)
      .filter((r): r is string => typeof r === 'string' && resolvesToPatient(r)),
  );
  const code = event.type?.code;
  const organisations = [...participatingOrganisations(event as never)];
  return { recorded, typeSystem: code ? (event.type?.system ?? null) : null, typeCode: code ?? null, patients: [...patients], organisations };
}

/** The columns each of AuditEvent's search parameters is answered from. */
export const AUDIT_SEARCH_COLUMNS: Record<string, { type: 'date'; column: string } | { type: 'token'; system: string; code: string } | { type: 'reference'; column: string }> = {
  date: { type: 'date', column: 'r.recorded' },
  type: { type: 'token', system: 'r.type_system', code: 'r.type_code' },
  patient: { type: 'reference', column: 'r.patients' },
};
