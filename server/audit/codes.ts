/**
 * Code systems and codes used in Forløp's AuditEvents (FHIR R4 AuditEvent,
 * https://hl7.org/fhir/R4/auditevent.html, and HL7 Norway's AuditEvent
 * profile, https://github.com/HL7Norway/AuditEvent).
 */
import type { Coding } from '@medplum/fhirtypes';

/** AuditEvent.type: a RESTful operation (audit-event-type). */
export const TYPE_REST: Coding = { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' };
export const RESTFUL_INTERACTION_SYSTEM = 'http://hl7.org/fhir/restful-interaction';

/** Organisation numbers from Enhetsregisteret (no-basis identifier system). */
export const ORGNR_SYSTEM = 'urn:oid:2.16.578.1.12.4.1.4.101';
/** HPR numbers (Helsepersonellregisteret). */
export const HPR_SYSTEM = 'urn:oid:2.16.578.1.12.4.1.4.4';

export const AGENT_APPLICATION: Coding = { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150', display: 'Application' };
export const AGENT_ORGANISATION: Coding = { system: 'http://terminology.hl7.org/CodeSystem/v3-RoleClass', code: 'PROV', display: 'healthcare provider' };
export const AGENT_HUMAN_USER: Coding = { system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'humanuser', display: 'human user' };

export const SOURCE_WEB_SERVER: Coding = { system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '3', display: 'Web Server' };

export const ENTITY_TYPE_PERSON: Coding = { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' };
export const ENTITY_TYPE_SYSTEM_OBJECT: Coding = { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' };
export const ENTITY_ROLE_PATIENT: Coding = { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' };
export const ENTITY_ROLE_DOMAIN_RESOURCE: Coding = { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' };
export const ENTITY_ROLE_QUERY: Coding = { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '24', display: 'Query' };

const PURPOSE = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
/** Purpose of use (v3 PurposeOfUse): treatment within the organisation, coordination of care across organisations. */
export const PURPOSE_TREATMENT: Coding = { system: PURPOSE, code: 'TREAT', display: 'treatment' };
export const PURPOSE_COORDINATION: Coding = { system: PURPOSE, code: 'COC', display: 'coordination of care' };

/**
 * Legal bases for sharing health information between organisations, as
 * AuditEvent.agent.policy URIs (lovdata.no).
 * - Helsepersonelloven § 45: disclosure to other health personnel when needed
 *   to give health care, unless the patient objects.
 * - Helsepersonelloven § 25: information to cooperating personnel.
 */
export const LEGAL_BASIS = {
  disclosureToHealthPersonnel: 'https://lovdata.no/lov/1999-07-02-64/§45',
  cooperatingPersonnel: 'https://lovdata.no/lov/1999-07-02-64/§25',
} as const;
