import type { Resource } from '@medplum/fhirtypes';
import { buildAuditEvent } from '../../server/audit/audit-event';
import { indexRows, indexRowsFor } from './indexing';
import { paramsFor } from './search-parameters';

/** Every search parameter evaluated, none skipped for a missing element: what indexRows must equal. */
const everyParameter = (resource: Resource) => indexRowsFor(paramsFor(resource.resourceType).map((p) => ({ ...p, elements: undefined })), resource);

const resources: Resource[] = [
  { resourceType: 'Task', status: 'requested', intent: 'order' },
  {
    resourceType: 'Task',
    status: 'in-progress',
    intent: 'order',
    identifier: [{ system: 'urn:x', value: '1' }],
    code: { coding: [{ system: 'urn:c', code: 'handoff' }] },
    for: { reference: 'Patient/p' },
    focus: { reference: 'ServiceRequest/s' },
    basedOn: [{ reference: 'CarePlan/c' }],
    partOf: [{ reference: 'Task/t' }],
    encounter: { reference: 'Encounter/e' },
    requester: { reference: 'Organization/a' },
    owner: { reference: 'Organization/b' },
    performerType: [{ coding: [{ system: 'urn:p', code: 'nurse' }] }],
    executionPeriod: { start: '2026-03-01', end: '2026-03-31' },
    authoredOn: '2026-03-01T10:00:00Z',
  },
  // Choice types: effective[x] is found under effectivePeriod and effectiveDateTime.
  { resourceType: 'Observation', status: 'final', code: { text: 'EPDS' }, subject: { reference: 'Patient/p' }, effectivePeriod: { start: '2026-02-01' }, valueQuantity: { value: 7 } },
  { resourceType: 'Observation', status: 'final', code: { text: 'EPDS' }, effectiveDateTime: '2026-02-01T08:00:00Z', valueCodeableConcept: { coding: [{ system: 'urn:v', code: 'x' }] } },
  { resourceType: 'Patient', identifier: [{ system: 'urn:oid:2.16.578.1.12.4.1.4.1', value: '01019000083' }], birthDate: '1990-01-01', managingOrganization: { reference: 'Organization/a' } },
  { resourceType: 'EpisodeOfCare', status: 'active', type: [{ coding: [{ system: 'urn:t', code: 'Basisprogram' }] }], patient: { reference: 'Patient/p' }, managingOrganization: { reference: 'Organization/k' }, period: { start: '2026-01-01' } },
  { resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: { reference: 'Patient/p' }, period: { start: '2026-01-01' }, instantiatesCanonical: ['https://example.org/plan|1'] },
  { resourceType: 'QuestionnaireResponse', status: 'completed', subject: { reference: 'Patient/p' }, questionnaire: 'https://example.org/q/epds', authored: '2026-02-01T09:00:00Z' },
  { resourceType: 'Encounter', status: 'finished', class: { system: 'urn:c', code: 'AMB' }, subject: { reference: 'Patient/p' }, period: { start: '2026-02-01T09:00:00Z' }, serviceProvider: { reference: 'Organization/a' } },
  buildAuditEvent({ interaction: 'read', method: 'GET', entities: ['Patient/p', 'Task/t'], status: 200, source: { observer: 'Forløp' }, recorded: new Date('2026-03-01T10:00:00Z'), actor: { clientId: 'c', organisation: { orgnr: '910000020', reference: 'Organization/a' } } }),
];

describe('indexRows', () => {
  it.each(resources.map((r) => [r.resourceType, r] as const))('gives a %s the rows that evaluating every search parameter gives', (_type, resource) => {
    expect(indexRows(resource)).toEqual(everyParameter(resource));
  });

  it('finds values under choice-type elements (effectivePeriod, effectiveDateTime for Observation.effective)', () => {
    expect(indexRows(resources[2]).dates).toEqual([{ param: 'date', low: '2026-02-01T00:00:00.000Z', high: null }]);
    expect(indexRows(resources[3]).dates).toEqual([{ param: 'date', low: '2026-02-01T08:00:00.000Z', high: '2026-02-01T08:00:00.000Z' }]);
  });
});
