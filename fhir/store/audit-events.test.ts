import type { AuditEvent } from '@medplum/fhirtypes';
import { buildAuditEvent, type AuditInput } from '../../server/audit/audit-event';
import { AUDIT_SEARCH_COLUMNS, auditColumns } from './audit-events';
import { indexRowsFor } from './indexing';
import { paramsFor } from './search-parameters';

/** What the search parameters' FHIRPath expressions give, in the shape of the audit table's columns. */
function byFhirPath(event: AuditEvent) {
  const rows = indexRowsFor(paramsFor('AuditEvent'), event);
  const [date, ...moreDates] = rows.dates;
  const [type, ...moreTypes] = rows.tokens.filter((t) => t.param === 'type');
  return {
    date: date && { low: date.low, high: date.high },
    moreDates,
    type: type ? { system: type.system, code: type.code } : { system: null, code: null },
    moreTypes,
    patients: [...new Set(rows.references.filter((r) => r.param === 'patient').map((r) => r.target))].sort(),
  };
}

function byColumns(event: AuditEvent) {
  const c = auditColumns(event);
  return { date: { low: c.recorded, high: c.recorded }, moreDates: [], type: { system: c.typeSystem, code: c.typeCode }, moreTypes: [], patients: [...c.patients].sort() };
}

const base: AuditInput = {
  interaction: 'read',
  method: 'GET',
  status: 200,
  source: { observer: 'Forløp' },
  recorded: new Date('2026-03-01T10:00:00.123Z'),
  actor: { clientId: 'c', issuer: 'https://idp', organisation: { orgnr: '910000020', reference: 'Organization/a' }, user: { subject: 's', hprNumber: '123', name: 'N' } },
  network: { address: '10.0.0.1' },
};

const built: [string, AuditEvent][] = [
  ['a read of a Patient', buildAuditEvent({ ...base, entities: ['Patient/p'] })],
  ['a read of a Task', buildAuditEvent({ ...base, entities: ['Task/t'] })],
  ['a versioned read of a Patient', buildAuditEvent({ ...base, interaction: 'vread', entities: ['Patient/p/_history/2'] })],
  ['a search with criteria and several results', buildAuditEvent({ ...base, interaction: 'search-type', query: 'subject=Patient/p', entities: ['Observation/o', 'Patient/p', 'Patient/q'] })],
  ['a refused call without a client', buildAuditEvent({ ...base, actor: undefined, status: 401, entities: [] })],
  ['a call across organisations', buildAuditEvent({ ...base, entities: ['Patient/p'], crossOrganisation: { organisations: ['Organization/b'] } })],
  ['an aborted call', buildAuditEvent({ ...base, aborted: true, status: 200, entities: ['Patient/p'] })],
  ['an operation that is no FHIR interaction', buildAuditEvent({ ...base, interaction: 'unknown', method: 'POST' })],
];

const odd: [string, AuditEvent][] = [
  ['references that only look like Patients or name one by condition', {
    resourceType: 'AuditEvent',
    type: { code: 'rest' },
    recorded: '2026-03-01T10:00:00Z',
    agent: [
      { requestor: true, who: { reference: 'Patient?identifier=urn:oid:2.16.578.1.12.4.1.4.1|01019000083' } },
      { requestor: false, who: { identifier: { system: 'x', value: 'y' }, type: 'Patient' } },
      { requestor: false, who: { reference: 'Patient/p' } },
    ],
    source: { observer: { display: 'Forløp' } },
    entity: [
      { what: { reference: 'http://elsewhere/fhir/Patient/x' } },
      { what: { reference: 'Patient/p' } },
      { what: { reference: 'Patient' } },
      { what: { reference: 'PatientX/1' } },
      { what: { reference: 'Patient/q?x=1' } },
      { what: { reference: '#contained' } },
      { what: { display: 'no reference' } },
    ],
  }],
  ['a type without a system', { resourceType: 'AuditEvent', type: { code: 'rest' }, recorded: '2026-03-01T23:59:59.999Z', agent: [{ requestor: true }], source: { observer: {} } }],
  ['a type without a code', { resourceType: 'AuditEvent', type: { system: 'http://s', display: 'd' }, recorded: '2026-03-01T10:00:00+02:00', agent: [{ requestor: true }], source: { observer: {} } }],
];

describe('AuditEvent columns', () => {
  it.each([...built, ...odd])('hold what the search parameters give: %s', (_name, event) => {
    expect(byColumns(event)).toEqual(byFhirPath(event));
  });

  it('answer every search parameter the store indexes for AuditEvent, and no other', () => {
    expect(Object.keys(AUDIT_SEARCH_COLUMNS).sort()).toEqual(paramsFor('AuditEvent').map((p) => p.code).sort());
  });

  it('refuse an AuditEvent without the instant it was recorded', () => {
    expect(() => auditColumns({ resourceType: 'AuditEvent' } as AuditEvent)).toThrow('An AuditEvent needs the instant it was recorded');
    // A day is no instant: its date range would not be one point.
    expect(() => auditColumns({ resourceType: 'AuditEvent', recorded: '2026-03-01' } as AuditEvent)).toThrow('An AuditEvent needs the instant it was recorded');
  });
});
