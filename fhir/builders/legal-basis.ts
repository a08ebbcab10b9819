/**
 * The legal basis of a release of data between services, recorded as a FHIR
 * R4 Consent (https://hl7.org/fhir/R4/consent.html) before anything is
 * shared: scope patient-privacy, the sending organisation, the basis as
 * policyRule (coded from Forløp's legal-basis CodeSystem, the law paragraph as
 * display and text), and the receiving organisation as the provision's actor.
 * National services code the basis of every release explicitly; so does
 * Forløp (helsepersonelloven §§22, 25, 33, 45: https://lovdata.no/lov/1999-07-02-64).
 *
 * The same shape, with the pathway-sharing category, is how a family's own
 * consent to sharing in the pathway is written by the municipality's system;
 * the event router passes its status changes to the family's workflow.
 */
import type { CodeableConcept, Consent, Identifier, Organization, Reference } from '@medplum/fhirtypes';

export const LEGAL_BASIS_SYSTEM = 'https://forlop.no/fhir/CodeSystem/legal-basis';
export const CONSENT_CATEGORY_SYSTEM = 'https://forlop.no/fhir/CodeSystem/consent-category';
/** On a ServiceRequest or Task: the legal basis of the handoff, as a Coding of LEGAL_BASIS_SYSTEM. */
export const LEGAL_BASIS_EXTENSION = 'https://forlop.no/fhir/StructureDefinition/legal-basis';

/** A handoff's release of data (one per handoff, written with or before its ServiceRequest and Task). */
export const HANDOFF_RELEASE_CATEGORY = 'handoff-release';
/** The family's consent to sharing in the pathway (written by the municipality's system). */
export const PATHWAY_SHARING_CATEGORY = 'pathway-sharing';

export type LegalBasisCode = 'consent' | 'health-personnel-cooperation' | 'section-33';

/** The bases a pathway definition may name, with the law they rest on. */
export const LEGAL_BASES: Record<LegalBasisCode, { display: string; text: string; url: string }> = {
  consent: {
    display: 'Samtykke (helsepersonelloven §22)',
    text: 'The patient has consented to the release (helsepersonelloven §22); sharing with services outside the health service, such as child welfare or school, needs consent.',
    url: 'https://lovdata.no/lov/1999-07-02-64/§22',
  },
  'health-personnel-cooperation': {
    display: 'Samarbeidende helsepersonell, med mindre pasienten motsetter seg det (helsepersonelloven §§25, 45)',
    text: 'Necessary and relevant information to cooperating health personnel for the patient\'s care, unless the patient objects (helsepersonelloven §25 and §45).',
    url: 'https://lovdata.no/lov/1999-07-02-64/§25',
  },
  'section-33': {
    display: 'Opplysningsplikt til barneverntjenesten (helsepersonelloven §33)',
    text: 'Duty to inform child welfare on one\'s own initiative where there is reason to believe a child suffers serious neglect (helsepersonelloven §33); not for unborn children.',
    url: 'https://lovdata.no/lov/1999-07-02-64/§33',
  },
};

export function isLegalBasis(code: string | undefined): code is LegalBasisCode {
  return code !== undefined && Object.prototype.hasOwnProperty.call(LEGAL_BASES, code);
}

export function legalBasisCoding(basis: LegalBasisCode) {
  return { system: LEGAL_BASIS_SYSTEM, code: basis, display: LEGAL_BASES[basis].display };
}

const CATEGORY_DISPLAY = { [HANDOFF_RELEASE_CATEGORY]: 'Utlevering ved overføring mellom tjenester', [PATHWAY_SHARING_CATEGORY]: 'Samtykke til deling i forløpet' } as const;

export interface LegalBasisConsentInput {
  id: string;
  identifier?: Identifier[];
  basis: LegalBasisCode;
  status: 'active' | 'inactive';
  category: typeof HANDOFF_RELEASE_CATEGORY | typeof PATHWAY_SHARING_CATEGORY;
  patient: string;
  /** When the basis was recorded (the day of the handoff). */
  on: string;
  /** The organisation releasing the data. */
  sender: Reference<Organization>;
  /** The organisation receiving it. */
  receiver: Reference<Organization>;
  /** What is released, e.g. ServiceRequest/123. */
  data?: string;
}

/** The purpose of use (v3 ActReason): treatment between health services; a report to child welfare is not treatment. */
function purposeOf(basis: LegalBasisCode) {
  return basis === 'section-33'
    ? { system: 'https://forlop.no/fhir/CodeSystem/purpose-of-use', code: 'child-welfare-report', display: 'Melding til barneverntjenesten' }
    : { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT', display: 'treatment' };
}

export function buildLegalBasisConsent(input: LegalBasisConsentInput): Consent {
  const basis = LEGAL_BASES[input.basis];
  const policyRule: CodeableConcept = { coding: [legalBasisCoding(input.basis)], text: basis.text };
  return {
    resourceType: 'Consent',
    id: input.id,
    ...(input.identifier ? { identifier: input.identifier } : {}),
    status: input.status,
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy', display: 'Privacy Consent' }] },
    category: [
      { coding: [{ system: CONSENT_CATEGORY_SYSTEM, code: input.category, display: CATEGORY_DISPLAY[input.category] }] },
      { coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] },
    ],
    patient: { reference: input.patient },
    dateTime: input.on,
    organization: [input.sender],
    policy: [{ uri: basis.url }],
    policyRule,
    provision: {
      type: 'permit',
      period: { start: input.on },
      actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' }] }, reference: input.receiver }],
      purpose: [purposeOf(input.basis)],
      ...(input.data ? { data: [{ meaning: 'related', reference: { reference: input.data } }] } : {}),
    },
  };
}
