import { validationIssues } from '../validate';
import { buildCarePlan, buildCheckTask, buildCoordinatorNotice, buildHandoffRequest, buildPlannedEncounter, buildReferralTask, carePlanId, stableId } from './pathway';
import { buildLegalBasisConsent, LEGAL_BASIS_SYSTEM } from './legal-basis';

const code = { system: 'https://forlop.no/fhir/CodeSystem/pathway-activity', code: 'home-visit' };
const helsestasjon = { reference: 'Organization/sarpsborg-helsestasjon' } as const;

describe('pathway builders', () => {
  it('derive stable ids, so writing the same thing twice updates one resource', () => {
    expect(stableId('f1', 'Encounter', 'hs-6w')).toBe(stableId('f1', 'Encounter', 'hs-6w'));
    expect(stableId('f1', 'Encounter', 'hs-6w')).not.toBe(stableId('f2', 'Encounter', 'hs-6w'));
    expect(carePlanId('f1')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('build resources both FHIR validators accept', () => {
    const carePlan = buildCarePlan({
      familyId: 'f1',
      canonical: 'https://forlop.no/fhir/PlanDefinition/basis|1.0.0',
      title: 'Basis',
      status: 'active',
      subject: 'Patient/p1',
      author: 'Organization/o1',
      coordinator: 'Practitioner/c1',
      phase: { id: 'pregnancy', title: 'Svangerskap' },
      period: { start: '2026-11-03' },
      activities: [
        { key: 'hs-home-visit', title: 'Hjemmebesøk', code, state: 'overdue', performer: helsestasjon, period: { start: '2027-06-08', end: '2027-06-11' } },
        { key: 'group', title: 'Gruppe', code, state: 'active', performer: { display: 'Team' }, repeat: { period: 1, periodUnit: 'wk', bounds: { start: '2026-11-17' } } },
        { key: 'waiting', title: 'Venter', code, state: 'waiting', performer: { display: 'Team' }, repeat: { period: 1, periodUnit: 'wk', count: 8, bounds: {} } },
      ],
    });
    expect(carePlan.activity?.[0]?.detail).toMatchObject({ status: 'scheduled', statusReason: { coding: [{ code: 'overdue' }] } });
    const { consent, serviceRequest, task } = buildHandoffRequest({ familyId: 'f1', key: 'referral-1', on: '2026-11-10', title: 'Henvisning', legalBasis: 'consent', subject: 'Patient/p1', requester: helsestasjon, owner: { reference: 'Organization/dps' } });
    expect(task.focus?.reference).toBe(`ServiceRequest/${serviceRequest.id}`);
    expect(serviceRequest.supportingInfo).toEqual([expect.objectContaining({ reference: `Consent/${consent.id}` })]);
    expect(consent).toMatchObject({
      status: 'active',
      scope: { coding: [{ code: 'patient-privacy' }] },
      patient: { reference: 'Patient/p1' },
      dateTime: '2026-11-10',
      organization: [helsestasjon],
      policyRule: { coding: [{ system: LEGAL_BASIS_SYSTEM, code: 'consent', display: 'Samtykke (helsepersonelloven §22)' }] },
      provision: { actor: [{ reference: { reference: 'Organization/dps' } }], purpose: [{ code: 'TREAT' }], data: [{ reference: { reference: `ServiceRequest/${serviceRequest.id}` } }] },
    });
    const referral = buildReferralTask({ familyId: 'f1', key: 'dps-in-1', on: '2026-11-10', title: 'Henvisning', legalBasis: 'health-personnel-cooperation', subject: 'Patient/p1', serviceRequest: 'ServiceRequest/ext-1', requester: { reference: 'Organization/fa' }, owner: { reference: 'Organization/dps' } });
    expect(referral.task).toMatchObject({ focus: { reference: 'ServiceRequest/ext-1' }, requester: { reference: 'Organization/fa' }, owner: { reference: 'Organization/dps' } });
    const report = buildLegalBasisConsent({ id: 'c33', basis: 'section-33', status: 'inactive', category: 'pathway-sharing', patient: 'Patient/p1', on: '2026-11-10', sender: helsestasjon, receiver: { display: 'Barneverntjenesten' } });
    const resources = [
      carePlan,
      buildPlannedEncounter({ familyId: 'f1', stepKey: 'hs-home-visit', status: 'planned', encounterClass: 'HH', type: code, subject: 'Patient/c1', period: { start: '2027-06-08', end: '2027-06-11' } }),
      buildCoordinatorNotice({ familyId: 'f1', key: 'contact-overdue-1', on: '2027-06-12', text: 'Not held', subject: 'Patient/p1', sender: 'Organization/o1', recipient: 'Practitioner/c1' }),
      consent,
      serviceRequest,
      task,
      referral.consent,
      referral.task,
      report,
      buildCheckTask({ familyId: 'f1', key: 'section-10a-1', on: '2026-11-12', due: '2026-11-26', title: '§10a', subject: 'Patient/p1', owner: { reference: 'Organization/dps' }, requester: helsestasjon }),
    ];
    for (const resource of resources) expect([resource.resourceType, validationIssues(resource)]).toEqual([resource.resourceType, []]);
  });
});
