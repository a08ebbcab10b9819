import type { Consent, QuestionnaireResponse, ServiceRequest } from '@medplum/fhirtypes';
import { CONSENT_CATEGORY_SYSTEM, LEGAL_BASIS_SYSTEM } from '../fhir/builders/legal-basis';
import { FORLOP_SYSTEMS } from '../fhir/builders/pathway';
import { DefinitionRegistry } from '../pathways/registry';
import { questionnaireEvent, referralEvent, routeResource } from './map-resource';

const plan = DefinitionRegistry.builtIn().plan('Basisprogram');
const services = { helsestasjon: 'Organization/sarpsborg-helsestasjon', dps: 'Organization/sykehuset-ostfold-dps' };
const today = '2027-01-09';

const epds = (answers: number[], extra: Partial<QuestionnaireResponse> = {}): QuestionnaireResponse => ({
  resourceType: 'QuestionnaireResponse',
  id: 'qr1',
  meta: { versionId: '2' },
  questionnaire: 'https://forlop.no/fhir/Questionnaire/epds|1.0',
  status: 'completed',
  subject: { reference: 'Patient/mor' },
  authored: '2027-01-08T10:00:00+01:00',
  item: answers.map((a, i) => ({ linkId: String(i + 1), answer: [{ valueInteger: a }] })),
  ...extra,
});

describe('QuestionnaireResponse', () => {
  it('is scored as the instrument its Questionnaire names: the sum of item answers, each kept by linkId', () => {
    const routed = routeResource(epds([2, 2, 1, 2, 1, 1, 2, 1, 1, 1]), today);
    expect(routed).toMatchObject({ kind: 'questionnaire', patient: 'Patient/mor' });
    const { event } = questionnaireEvent(epds([2, 2, 1, 2, 1, 1, 2, 1, 1, 1]), plan, today);
    expect(event).toEqual({ type: 'screening-recorded', instrument: 'epds', score: 14, items: { '1': 2, '2': 2, '3': 1, '4': 2, '5': 1, '6': 1, '7': 2, '8': 1, '9': 1, '10': 1 }, date: '2027-01-08', resource: 'QuestionnaireResponse/qr1', eventId: 'QuestionnaireResponse/qr1/_history/2' });
  });

  it('scores coded answers by their ordinal value or numeric code, inside groups, and passes over other answer types', () => {
    const ordinal = (code: string, value: number) => ({ valueCoding: { system: 'http://loinc.org', code, extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/ordinalValue', valueDecimal: value }] } });
    const qr = epds([], {
      questionnaire: 'https://forlop.no/fhir/Questionnaire/tweak',
      item: [
        { linkId: 'date', answer: [{ valueDate: '2027-01-08' }] },
        { linkId: 'group', item: [{ linkId: '1', answer: [ordinal('LA6568-5', 2)] }, { linkId: '2', answer: [{ valueCoding: { code: '1' } }] }, { linkId: '3', answer: [{ valueInteger: 0 }] }, { linkId: '4', answer: [{ valueInteger: 0 }] }, { linkId: '5', answer: [{ valueInteger: 0 }] }] },
      ],
    });
    expect(questionnaireEvent(qr, plan, today).event).toMatchObject({ instrument: 'tweak', score: 3, items: { '1': 2, '2': 1, '3': 0 } });
  });

  it('is not scored when an answer has no score or items are missing, and says why', () => {
    expect(questionnaireEvent(epds([1, 1, 1]), plan, today)).toEqual({ problem: 'Edinburgh Postnatal Depression Scale: 3 of 10 items answered; a partial screening is not scored' });
    const coded = epds([1, 1, 1, 1, 1, 1, 1, 1, 1], { item: [...epds([1, 1, 1, 1, 1, 1, 1, 1, 1]).item!, { linkId: '10', answer: [{ valueCoding: { code: 'never' } }] }] });
    expect(questionnaireEvent(coded, plan, today).problem).toMatch(/item 10: the answer never has no score/);
  });

  it('names the step it is basedOn (the CarePlan activity), and is refused when that step is not a screening of its instrument (issue #29)', () => {
    const link = (key: string) => ({ basedOn: [{ reference: 'CarePlan/cp1', identifier: { system: FORLOP_SYSTEMS.pathwayStep, value: `fam1/${key}` } }] });
    expect(questionnaireEvent(epds([0, 0, 0, 0, 0, 0, 0, 0, 0, 0], link('epds-postnatal')), plan, today).event).toMatchObject({ instrument: 'epds', step: 'epds-postnatal' });
    expect(questionnaireEvent(epds([0, 0, 0, 0, 0, 0, 0, 0, 0, 0], link('preg-24')), plan, today)).toEqual({ problem: "Edinburgh Postnatal Depression Scale: it names step 'preg-24' (Svangerskapskonsultasjon uke 24), which a Edinburgh Postnatal Depression Scale result cannot fulfil" });
    expect(questionnaireEvent(epds([0, 0, 0, 0, 0, 0, 0, 0, 0, 0], link('epds-late')), plan, today).problem).toMatch(/names step 'epds-late', which .* does not have/);
  });

  it('passes over other questionnaires and responses not completed', () => {
    expect(questionnaireEvent(epds([1], { questionnaire: 'https://example.org/Questionnaire/other' }), plan, today)).toEqual({});
    expect(routeResource(epds([1], { status: 'in-progress' }), today)).toBeUndefined();
  });
});

describe('Consent', () => {
  const consent = (status: Consent['status'], extra: Partial<Consent> = {}): Consent => ({
    resourceType: 'Consent',
    id: 'c1',
    meta: { versionId: '3' },
    status,
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: CONSENT_CATEGORY_SYSTEM, code: 'pathway-sharing' }] }],
    patient: { reference: 'Patient/mor' },
    dateTime: '2027-01-05',
    policyRule: { coding: [{ system: LEGAL_BASIS_SYSTEM, code: 'consent' }] },
    ...extra,
  });

  it('of the pathway-sharing category is the family answering on a legal basis: inactive means withdrawn', () => {
    expect(routeResource(consent('inactive'), today)).toEqual({ kind: 'event', patient: 'Patient/mor', event: { type: 'consent-changed', basis: 'consent', status: 'withdrawn', date: '2027-01-05', eventId: 'Consent/c1/_history/3' } });
    expect(routeResource(consent('active'), today)).toMatchObject({ event: { status: 'active' } });
    expect(routeResource(consent('rejected', { policyRule: { coding: [{ system: LEGAL_BASIS_SYSTEM, code: 'health-personnel-cooperation' }] } }), today)).toMatchObject({ event: { basis: 'health-personnel-cooperation', status: 'rejected' } });
  });

  it("is passed over when it is a handoff's own record, another category, or a draft", () => {
    expect(routeResource(consent('active', { identifier: [{ system: FORLOP_SYSTEMS.handoff, value: 'f/k' }] }), today)).toBeUndefined();
    expect(routeResource(consent('active', { category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }] }), today)).toBeUndefined();
    expect(routeResource(consent('draft'), today)).toBeUndefined();
  });
});

describe('ServiceRequest', () => {
  const referral = (extra: Partial<ServiceRequest> = {}): ServiceRequest => ({
    resourceType: 'ServiceRequest',
    id: 'sr-ext-1',
    meta: { versionId: '1' },
    status: 'active',
    intent: 'order',
    subject: { reference: 'Patient/mor' },
    requester: { reference: 'Organization/legekontor' },
    performer: [{ reference: 'Organization/sykehuset-ostfold-dps' }],
    authoredOn: '2027-01-07',
    ...extra,
  });

  it("written by another system to a service whose handoff takes referrals is a referral in, keyed by a hash of its id", () => {
    const routed = routeResource(referral(), today);
    expect(routed).toMatchObject({ kind: 'referral', patient: 'Patient/mor' });
    const event = referralEvent(referral(), plan, services, today);
    expect(event).toMatchObject({ type: 'referral-received', handoff: 'mental-health-referral', serviceRequest: 'ServiceRequest/sr-ext-1', performer: 'Organization/sykehuset-ostfold-dps', requester: 'Organization/legekontor', date: '2027-01-07', eventId: 'ServiceRequest/sr-ext-1/_history/1' });
    expect(event).toMatchObject({ key: expect.stringMatching(/^mental-health-referral-in-[0-9a-f]{12}$/) });
    // Another version of the same request: the same key, so the same handoff.
    expect(referralEvent(referral({ meta: { versionId: '2' } }), plan, services, today)).toMatchObject({ key: (event as { key: string }).key });
  });

  it("is passed over when it is Forløp's own handoff, not active, or addressed to no service that takes referrals", () => {
    expect(routeResource(referral({ identifier: [{ system: FORLOP_SYSTEMS.handoff, value: 'f/k' }] }), today)).toBeUndefined();
    expect(routeResource(referral({ status: 'completed' }), today)).toBeUndefined();
    expect(routeResource(referral({ intent: 'proposal' }), today)).toBeUndefined();
    expect(referralEvent(referral({ performer: [{ reference: 'Organization/sarpsborg-helsestasjon' }] }), plan, services, today)).toBeUndefined();
    expect(referralEvent(referral({ performer: [{ reference: 'Organization/unknown' }] }), plan, services, today)).toBeUndefined();
  });
});

describe('Encounter', () => {
  it('names its step by its own pathway-step identifier (the planned Encounter) or by a link to it (issue #29)', () => {
    const encounter = { resourceType: 'Encounter', id: 'e1', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'Patient/mor' }, period: { start: '2027-01-08T10:00:00+01:00' } } as const;
    const step = (routed: ReturnType<typeof routeResource>) => (routed?.kind === 'event' && routed.event.type === 'encounter-recorded' ? (routed.event.step ?? null) : 'not an encounter');
    expect(step(routeResource({ ...encounter, identifier: [{ system: FORLOP_SYSTEMS.pathwayStep, value: 'fam1/preg-24' }] }, today))).toBe('preg-24');
    expect(step(routeResource({ ...encounter, partOf: { reference: 'Encounter/planned', identifier: { system: FORLOP_SYSTEMS.pathwayStep, value: 'fam1/preg-28' } } }, today))).toBe('preg-28');
    expect(step(routeResource(encounter, today))).toBeNull();
  });
});
