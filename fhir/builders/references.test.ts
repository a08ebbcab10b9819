import { validationIssues } from '../validate';
import { organisationReference, patientReference, practitionerReference } from './references';

describe('references by Norwegian identifier', () => {
  it('names an organisation by organisasjonsnummer, with the literal reference when known', () => {
    expect(organisationReference('974760673', { reference: 'Organization/brreg', display: 'Brønnøysundregistrene' })).toEqual({
      reference: 'Organization/brreg',
      type: 'Organization',
      identifier: { system: 'urn:oid:2.16.578.1.12.4.1.4.101', value: '974760673' },
      display: 'Brønnøysundregistrene',
    });
    expect(() => organisationReference('974760674')).toThrow("'974760674' is not a valid organisasjonsnummer (9 digits, mod 11 check digit)");
  });

  it('names health personnel by HPR-nummer and a patient by the kind of number given, keeping the number out of errors', () => {
    expect(practitionerReference('9144889').identifier).toEqual({ system: 'urn:oid:2.16.578.1.12.4.1.4.4', value: '9144889' });
    expect(patientReference('41019000077').identifier).toEqual({ system: 'urn:oid:2.16.578.1.12.4.1.4.2', value: '41019000077' });
    expect(patientReference('01019000083').identifier?.system).toBe('urn:oid:2.16.578.1.12.4.1.4.1');
    expect(() => patientReference('01019000084')).toThrow('Not a valid fødselsnummer, D-nummer or H-nummer: it has wrong check digits (mod 11)');
  });

  it('makes references the validators accept inside resources', () => {
    const task = { resourceType: 'Task', status: 'requested', intent: 'order', owner: organisationReference('974760673'), for: patientReference('01019000083') };
    expect(validationIssues(task as never)).toEqual([]);
  });
});
