import type { ForlopAuthContext } from './context';
import { familyParticipants, filterAccessible, organisationAccess, organisationWriteAccess, otherOrganisations, participatingOrganisations, type AccessContext } from './organisation-access';

type Auth = Pick<ForlopAuthContext, 'organisation' | 'role'>;
const org = (id: string) => `Organization/${id}`;
const as = (id: string, role: ForlopAuthContext['role'] = 'system', orgnr = '000000000'): Auth => ({ organisation: { orgnr, reference: org(id) }, role });

const helsestasjon = as('sarpsborg-helsestasjon');
const familieambulatorium = as('familieambulatorium');
const fredrikstad = as('fredrikstad-helsestasjon');
const coordinator = as('sarpsborg-kommune', 'coordinator');
const fredrikstadCoordinator = as('fredrikstad-kommune', 'coordinator');

// Family A: mother Patient/a-mor, child Patient/a-barn, municipality Sarpsborg (its helsestasjon).
const mother = { resourceType: 'Patient', id: 'a-mor', managingOrganization: { reference: org('sarpsborg-helsestasjon') } };
const carePlan = {
  resourceType: 'CarePlan',
  id: 'cp',
  subject: { reference: 'Patient/a-mor' },
  author: { reference: org('sarpsborg-helsestasjon') },
  careTeam: [{ reference: '#team' }],
  contained: [{ resourceType: 'CareTeam', id: 'team', participant: [{ member: { reference: org('familieambulatorium') } }] }],
};
const handoff = {
  resourceType: 'Task',
  id: 't',
  for: { reference: 'Patient/a-mor' },
  requester: { reference: org('sarpsborg-helsestasjon') },
  owner: { identifier: { system: 'urn:oid:2.16.578.1.12.4.1.4.101', value: '910000071' } },
};
const observation = { resourceType: 'Observation', id: 'epds', subject: { reference: 'Patient/a-mor' }, performer: [{ reference: 'Practitioner/x' }] };
const child = { resourceType: 'Patient', id: 'a-barn', managingOrganization: { reference: org('sarpsborg-helsestasjon') } };

const familyA = familyParticipants([mother, child, carePlan, handoff]);
const context: AccessContext = {
  familyOrganisations: (patient) => (patient === 'Patient/a-mor' || patient === 'Patient/a-barn' ? familyA : []),
  parentOf: (ref) => ({ [org('sarpsborg-helsestasjon')]: org('sarpsborg-kommune'), [org('fredrikstad-helsestasjon')]: org('fredrikstad-kommune') })[ref],
  organisationsByOrgnr: { '910000071': org('barnevern') },
};

describe('participatingOrganisations', () => {
  it('follows contained care teams and maps organisation numbers', () => {
    expect([...participatingOrganisations(carePlan)]).toEqual([org('sarpsborg-helsestasjon'), org('familieambulatorium')]);
    expect([...participatingOrganisations(handoff, context)]).toEqual([org('sarpsborg-helsestasjon'), org('barnevern')]);
  });

  it("names a Consent's releasing organisation and the recipients its provision permits", () => {
    const consent = { resourceType: 'Consent', id: 'c', patient: { reference: 'Patient/b-mor' }, organization: [{ reference: org('sarpsborg-helsestasjon') }], provision: { actor: [{ role: { text: 'IRCP' }, reference: { reference: org('dps') } }] } };
    expect([...participatingOrganisations(consent)]).toEqual([org('sarpsborg-helsestasjon'), org('dps')]);
    expect(organisationAccess(as('dps'), consent, context)).toMatchObject({ allowed: true, basis: 'participant' });
    expect(organisationAccess(fredrikstad, consent, context)).toMatchObject({ allowed: false });
  });

  it('counts only membership resources for the family, not handoffs', () => {
    expect([...familyA].sort()).toEqual([org('familieambulatorium'), org('sarpsborg-helsestasjon')]);
  });
});

describe('organisationAccess', () => {
  it.each([
    ['the municipality reads the mother', helsestasjon, mother, true, 'participant'],
    ['the municipality reads an Observation about her', helsestasjon, observation, true, 'family'],
    ['the care team member reads the CarePlan', familieambulatorium, carePlan, true, 'participant'],
    ['the care team member reads the child', familieambulatorium, child, true, 'family'],
    ['another municipality cannot read the mother', fredrikstad, mother, false, undefined],
    ['another municipality cannot read the Observation', fredrikstad, observation, false, undefined],
    ['another municipality cannot read the CarePlan', fredrikstad, carePlan, false, undefined],
    ['another municipality cannot read the handoff', fredrikstad, handoff, false, undefined],
    ['the coordinator spans its units: the mother', coordinator, mother, true, 'coordinator'],
    ['the coordinator spans its units: the Observation', coordinator, observation, true, 'coordinator'],
    ["another municipality's coordinator sees nothing", fredrikstadCoordinator, observation, false, undefined],
  ] as const)('%s', (_label, auth, resource, allowed, basis) => {
    const decision = organisationAccess(auth, resource, context);
    expect(decision.allowed).toBe(allowed);
    expect(decision.basis).toBe(basis);
  });

  it('lets the owner of an offered handoff see the handoff but not yet the family', () => {
    const barnevern = as('barnevern');
    expect(organisationAccess(barnevern, handoff, context).allowed).toBe(true);
    expect(organisationAccess(barnevern, observation, context).allowed).toBe(false);
  });

  it('a non-coordinator from the parent organisation does not span units', () => {
    expect(organisationAccess(as('sarpsborg-kommune'), mother, context).allowed).toBe(false);
  });

  it('shares directory resources and refuses types that are not listed', () => {
    expect(organisationAccess(fredrikstad, { resourceType: 'Organization', id: 'x' }).basis).toBe('shared');
    expect(organisationAccess(helsestasjon, { resourceType: 'Basic', id: 'x' })).toEqual({ allowed: false, reason: 'Basic resources are not available through this API.' });
  });

  it('explains a refusal without revealing the resource', () => {
    const { reason } = organisationAccess(as('fredrikstad-helsestasjon', 'system', '910000055'), observation, context);
    expect(reason).toBe('Organisation 910000055 takes no part in this Observation or its family.');
  });
});

describe('organisationWriteAccess', () => {
  it('refuses moving a Task away to an organisation the caller is not part of', () => {
    const moved = { ...handoff, requester: { reference: org('fredrikstad-helsestasjon') }, owner: { reference: org('fredrikstad-helsestasjon') }, for: { reference: 'Patient/z' } };
    const decision = organisationWriteAccess(helsestasjon, { before: handoff, after: moved }, context);
    expect(decision).toEqual({ allowed: false, reason: 'The new version: Organisation 000000000 takes no part in this Task or its family.' });
  });

  it('refuses creating a resource in a family the caller is not part of', () => {
    expect(organisationWriteAccess(fredrikstad, { after: { ...observation, id: undefined } }, context).allowed).toBe(false);
    expect(organisationWriteAccess(helsestasjon, { after: { ...observation, id: undefined } }, context).allowed).toBe(true);
  });

  it('refuses every client write to AuditEvents, even one naming the client', () => {
    const event = { resourceType: 'AuditEvent', agent: [{ who: { reference: org('sarpsborg-helsestasjon') } }] };
    expect(organisationAccess(helsestasjon, event).allowed).toBe(true);
    expect(organisationWriteAccess(helsestasjon, { after: event })).toEqual({ allowed: false, reason: 'AuditEvent resources are written by the server only and can never be changed or deleted.' });
    expect(organisationWriteAccess(helsestasjon, { before: event }).allowed).toBe(false);
  });

  it('refuses client writes to shared directory data', () => {
    expect(organisationWriteAccess(helsestasjon, { after: { resourceType: 'Organization' } }).allowed).toBe(false);
  });
});

describe('otherOrganisations', () => {
  it('names the organisations whose data crosses to the caller', () => {
    expect(otherOrganisations(familieambulatorium, carePlan, context)).toEqual([org('sarpsborg-helsestasjon')]);
    expect(otherOrganisations(coordinator, mother, context)).toEqual([]);
  });
});

describe('filterAccessible', () => {
  it('withholds the entries of a search page (and its includes) the caller takes no part in', () => {
    const page = [mother, carePlan, observation, { resourceType: 'Organization', id: 'x' }];
    expect(filterAccessible(fredrikstad, page, context)).toEqual({ allowed: [{ resourceType: 'Organization', id: 'x' }], withheld: 3 });
    expect(filterAccessible(helsestasjon, page, context).withheld).toBe(0);
  });
});
