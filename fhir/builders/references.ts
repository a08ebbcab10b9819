/**
 * References to the parties of a family's care by their Norwegian
 * identifiers (HL7 Norway no-basis; DOMAIN.md): an organisation by its
 * organisasjonsnummer, health personnel by HPR-nummer, a person by
 * fødselsnummer or D-nummer. A logical reference (Reference.identifier) lets
 * systems that do not share resource ids point at the same party; the literal
 * reference is added when the resource is known. Identifiers are checked
 * (mod 11) before they go anywhere.
 * (https://hl7.org/fhir/R4/references.html#logical)
 */
import type { Organization, Patient, Practitioner, Reference } from '@medplum/fhirtypes';
import { checkPersonNumber, isValidHprNumber, isValidOrganisationNumber, SYSTEMS } from '../norwegian-identifiers';

export function organisationReference(orgnr: string, options: { reference?: string; display?: string } = {}): Reference<Organization> {
  if (!isValidOrganisationNumber(orgnr)) throw new TypeError(`'${orgnr}' is not a valid organisasjonsnummer (9 digits, mod 11 check digit)`);
  return { ...(options.reference ? { reference: options.reference } : {}), type: 'Organization', identifier: { system: SYSTEMS.orgnr, value: orgnr }, ...(options.display ? { display: options.display } : {}) };
}

export function practitionerReference(hpr: string, options: { reference?: string; display?: string } = {}): Reference<Practitioner> {
  if (!isValidHprNumber(hpr)) throw new TypeError(`'${hpr}' is not a valid HPR-nummer`);
  return { ...(options.reference ? { reference: options.reference } : {}), type: 'Practitioner', identifier: { system: SYSTEMS.hpr, value: hpr }, ...(options.display ? { display: options.display } : {}) };
}

/** A patient by fødselsnummer, D-nummer or H-nummer (the system follows from the number). Never put this in a workflow input or a log. */
export function patientReference(personNumber: string, options: { reference?: string } = {}): Reference<Patient> {
  const check = checkPersonNumber(personNumber);
  // The number itself stays out of the message: it is personal data.
  if (!check.ok) throw new TypeError(`Not a valid fødselsnummer, D-nummer or H-nummer: it ${check.reason}`);
  return { ...(options.reference ? { reference: options.reference } : {}), type: 'Patient', identifier: { system: SYSTEMS[check.kind], value: personNumber } };
}
