import type { Resource } from '@medplum/fhirtypes';
import { OperationOutcomeError } from '../outcome';
import { SYSTEMS } from '../norwegian-identifiers';
import { assertValidResource, validationIssues } from './index';

const patient = {
  resourceType: 'Patient',
  identifier: [{ system: SYSTEMS.fnr, value: '01019000083' }],
  birthDate: '1990-01-01',
};
const task = {
  resourceType: 'Task',
  status: 'requested',
  intent: 'order',
  for: { reference: 'Patient/p1' },
  requester: { reference: 'Organization/helsestasjon', identifier: { system: SYSTEMS.orgnr, value: '974760673' } },
  owner: { reference: 'Organization/familieambulatorium' },
};

const summary = (resource: unknown) => validationIssues(resource).map((i) => [i.severity, i.code, i.expression?.[0], i.details?.text]);

describe('validating resources', () => {
  it.each([
    ['Patient', patient],
    ['Task', task],
    ['CarePlan', { resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: { reference: 'Patient/p1' }, instantiatesCanonical: ['https://forlop.no/pathways/basis|1.0.0'], activity: [{ detail: { status: 'scheduled', scheduledPeriod: { start: '2026-12-01', end: '2026-12-10' } } }] }],
    ['Encounter', { resourceType: 'Encounter', status: 'planned', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'HH' }, subject: { reference: 'Patient/p1' } }],
    ['Organization', { resourceType: 'Organization', identifier: [{ system: SYSTEMS.orgnr, value: '974760673' }], name: 'Helsestasjon' }],
  ])('accepts a valid %s', (_type, resource) => {
    expect(validationIssues(resource)).toEqual([]);
  });

  it('finds a code outside the required value set (the JSON schema)', () => {
    expect(summary({ ...task, status: 'bogus' })).toEqual([['error', 'code-invalid', 'Task.status', expect.stringMatching(/^Invalid code: must be one of 'draft', 'requested'/)]]);
  });

  it('finds a missing required element (the StructureDefinition)', () => {
    const { status: _status, ...withoutStatus } = task;
    expect(summary(withoutStatus)).toContainEqual(['error', 'structure', 'Task.status', 'Missing required property']);
  });

  it('finds a wrong fødselsnummer check digit without echoing the number', () => {
    const issues = summary({ ...patient, identifier: [{ system: SYSTEMS.fnr, value: '01019000084' }] });
    expect(issues).toEqual([['error', 'value', 'Patient.identifier[0].value', 'Invalid fødselsnummer: has wrong check digits (mod 11)']]);
    expect(JSON.stringify(issues)).not.toContain('01019000084');
  });

  it('finds a bad organisation number inside a reference', () => {
    expect(summary({ ...task, requester: { reference: 'Organization/x', identifier: { system: SYSTEMS.orgnr, value: '974760674' } } })).toEqual([
      ['error', 'value', 'Task.requester.identifier.value', 'Invalid organisasjonsnummer: has a wrong check digit (mod 11)'],
    ]);
  });

  it('finds unknown properties, bad ids and malformed dates, all at once', () => {
    const issues = summary({ ...patient, id: 'not valid!', birthDate: '1990-13-45', nickname: 'x' });
    expect(issues).toEqual(
      expect.arrayContaining([
        ['error', 'value', 'Patient.id', 'Invalid format: does not match the FHIR primitive type'],
        ['error', 'value', 'Patient.birthDate', 'Invalid format: does not match the FHIR primitive type'],
        ['error', 'structure', 'Patient.nickname', "Unknown property 'nickname'"],
      ]),
    );
  });

  it('refuses unknown resource types and non-objects', () => {
    expect(summary({ resourceType: 'Familie' })).toEqual([['error', 'structure', 'resourceType', "Unknown resource type 'Familie'"]]);
    expect(summary([])).toEqual([['error', 'structure', undefined, 'A resource must be a JSON object']]);
  });

  it('throws one OperationOutcome (422) with every issue', () => {
    let error: unknown;
    try {
      assertValidResource({ ...task, status: 'bogus', requester: { identifier: { system: SYSTEMS.orgnr, value: '1' } } } as Resource);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OperationOutcomeError);
    expect((error as OperationOutcomeError).status).toBe(422);
    expect((error as OperationOutcomeError).outcome.issue?.map((i) => i.expression?.[0])).toEqual(['Task.status', 'Task.requester.identifier.value']);
  });
});

describe('reference target types', () => {
  it('refuses a reference to a type the element does not allow, also inside backbone elements', () => {
    expect(summary({ ...task, owner: { reference: 'Task/t1' } })).toEqual([
      ['error', 'structure', 'Task.owner', 'Invalid reference for Task.owner: Task is not one of Practitioner, PractitionerRole, Organization, CareTeam, HealthcareService, Patient, Device, RelatedPerson'],
    ]);
    const carePlan = { resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: { reference: 'Patient/p1' }, activity: [{ detail: { status: 'scheduled', performer: [{ reference: 'Flag/f1' }] } }] };
    expect(summary(carePlan).map((i) => i[2])).toEqual(['CarePlan.activity[0].detail.performer[0]']);
  });
});

describe('resources inside resources', () => {
  it('checks each Bundle entry and contained resource against its own type, with its path', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { resource: { resourceType: 'PlanDefinition', status: 'active', url: 'https://example.org/pd', action: [{ title: 'a' }] } },
        { resource: { resourceType: 'Task', status: 'bogus', intent: 'order' } },
      ],
    };
    expect(validationIssues(bundle as never).map((i) => [i.expression?.[0], i.details?.text])).toEqual([["Bundle.entry[1].resource.status", expect.stringMatching(/^Invalid code: must be one of 'draft', 'requested'/)]]);
  });
});
