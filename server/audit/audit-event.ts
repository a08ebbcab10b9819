/**
 * Builds FHIR R4 AuditEvent resources for API calls: pure functions, no I/O.
 *
 * Shape (https://hl7.org/fhir/R4/auditevent.html, following HL7 Norway's
 * AuditEvent profile where it applies):
 *   type      rest; subtype the restful-interaction (read, search-type, ...)
 *   action    C / R / U / D / E (search and operations are E, R4 audit-event-action)
 *   recorded  when the response was decided
 *   outcome   0 success, 4 minor failure (4xx), 8 serious failure (5xx or aborted)
 *   agent     the client application (requestor unless a user is present),
 *             its organisation (orgnr in Enhetsregisteret), and the user if any
 *             (HPR number when known; never the national id)
 *   source    this server
 *   entity    the resources touched; a Patient as the no-basis patient slice
 *             (type 1 Person, role 1 Patient); search criteria as a query entity
 * When data crosses organisations, the organisation agent carries the legal
 * basis in agent.policy and purposeOfUse "coordination of care".
 */
import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding } from '@medplum/fhirtypes';
import {
  AGENT_APPLICATION,
  AGENT_HUMAN_USER,
  AGENT_ORGANISATION,
  ENTITY_ROLE_DOMAIN_RESOURCE,
  ENTITY_ROLE_PATIENT,
  ENTITY_ROLE_QUERY,
  ENTITY_TYPE_PERSON,
  ENTITY_TYPE_SYSTEM_OBJECT,
  HPR_SYSTEM,
  LEGAL_BASIS,
  ORGNR_SYSTEM,
  PURPOSE_COORDINATION,
  PURPOSE_TREATMENT,
  RESTFUL_INTERACTION_SYSTEM,
  SOURCE_WEB_SERVER,
  TYPE_REST,
} from './codes';
import type { RestInteraction } from './fhir-request';

export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';
export type AuditOutcome = '0' | '4' | '8' | '12';

/** Who made the request, as far as it is known (nothing for a request refused before authentication). */
export interface AuditActor {
  clientId: string;
  /** Token issuer, used as the identifier system of the client id. */
  issuer?: string;
  organisation?: { orgnr: string; reference?: string; parent?: { orgnr: string; reference?: string } };
  user?: { subject: string; hprNumber?: string; name?: string };
  role?: string;
}

export interface CrossOrganisationAccess {
  /** The other organisations whose families/handoffs the data belongs to (Organization references). */
  organisations: string[];
  /** agent.policy URIs; default: helsepersonelloven § 45. */
  legalBasis?: string[];
}

export interface AuditInput {
  interaction: RestInteraction | 'unknown';
  /** HTTP method, used when the interaction is unknown. */
  method: string;
  /** Resources read or changed, "Type/id" or "Type/id/_history/v". */
  entities?: string[];
  /** Search criteria (query string without "?"), stored base64 as R4 requires. */
  query?: string;
  status: number;
  /** Why it failed, in words safe for the audit log (no resource content). */
  outcomeDescription?: string;
  /** Set when the connection closed before a response was sent. */
  aborted?: boolean;
  actor?: AuditActor;
  crossOrganisation?: CrossOrganisationAccess;
  network?: { address?: string };
  /** The server's identity in AuditEvent.source.observer. */
  source: { site?: string; observer: string };
  recorded: Date;
}

const ACTION_BY_INTERACTION: Record<RestInteraction, AuditAction> = {
  read: 'R',
  vread: 'R',
  'history-instance': 'R',
  'history-type': 'R',
  'history-system': 'R',
  capabilities: 'R',
  create: 'C',
  update: 'U',
  patch: 'U',
  delete: 'D',
  'search-type': 'E',
  'search-system': 'E',
  transaction: 'E',
  operation: 'E',
};

const ACTION_BY_METHOD: Record<string, AuditAction> = { GET: 'R', HEAD: 'R', POST: 'C', PUT: 'U', PATCH: 'U', DELETE: 'D' };

export function auditAction(interaction: RestInteraction | 'unknown', method: string): AuditAction {
  return interaction === 'unknown' ? (ACTION_BY_METHOD[method.toUpperCase()] ?? 'E') : ACTION_BY_INTERACTION[interaction];
}

export function auditOutcome(status: number, aborted = false): AuditOutcome {
  if (aborted || status >= 500) return '8';
  if (status >= 400) return '4';
  return '0';
}

/** A value from a token as a FHIR string can hold it: trimmed, and absent when nothing is left (FHIR strings are never empty). */
function claim(value: string | undefined): string | undefined {
  return value?.trim() || undefined;
}

function clientAgent(actor: AuditActor | undefined, network: AuditInput['network']): AuditEventAgent {
  const clientId = claim(actor?.clientId);
  return {
    type: { coding: [AGENT_APPLICATION] },
    who: clientId ? { identifier: { system: actor!.issuer, value: clientId }, display: clientId } : { display: actor ? 'unidentified client' : 'unauthenticated client' },
    requestor: !actor?.user,
    ...(network?.address ? { network: { address: network.address, type: '2' as const } } : {}),
  };
}

function organisationAgent(actor: AuditActor, cross: CrossOrganisationAccess | undefined): AuditEventAgent | undefined {
  const org = actor.organisation;
  if (!org) return undefined;
  const who: NonNullable<AuditEventAgent['who']> = { identifier: { system: ORGNR_SYSTEM, value: org.orgnr } };
  if (org.reference) who.reference = org.reference;
  const agent: AuditEventAgent = { type: { coding: [AGENT_ORGANISATION] }, who, requestor: false };
  if (cross && cross.organisations.length > 0) {
    agent.policy = cross.legalBasis ?? [LEGAL_BASIS.disclosureToHealthPersonnel];
    agent.purposeOfUse = [{ coding: [PURPOSE_COORDINATION] }];
  } else {
    agent.purposeOfUse = [{ coding: [PURPOSE_TREATMENT] }];
  }
  return agent;
}

function userAgent(actor: AuditActor): AuditEventAgent | undefined {
  const user = actor.user;
  if (!user) return undefined;
  const [subject, hprNumber, name, role] = [user.subject, user.hprNumber, user.name, actor.role].map(claim);
  const identifier = hprNumber ? { system: HPR_SYSTEM, value: hprNumber } : subject ? { system: actor.issuer, value: subject } : undefined;
  return {
    type: { coding: [AGENT_HUMAN_USER] },
    who: identifier || name ? { ...(identifier ? { identifier } : {}), ...(name ? { display: name } : {}) } : { display: 'unidentified user' },
    ...(subject ? { altId: subject } : {}),
    requestor: true,
    ...(role ? { role: [{ text: role }] } : {}),
  };
}

/** "Patient/1/_history/2" -> its Reference; the Patient gets the no-basis patient slice codes. */
function resourceEntity(reference: string): AuditEventEntity {
  const isPatient = reference.startsWith('Patient/');
  return {
    what: { reference },
    type: isPatient ? ENTITY_TYPE_PERSON : ENTITY_TYPE_SYSTEM_OBJECT,
    role: isPatient ? ENTITY_ROLE_PATIENT : ENTITY_ROLE_DOMAIN_RESOURCE,
  };
}

/** 11 digits not part of a longer number: the shape of a fødselsnummer, D-nummer or H-nummer. */
const NATIONAL_ID = /(?<!\d)\d{11}(?!\d)/g;

/**
 * Search criteria without national ids (issue #20): an AuditEvent is read by
 * organisations other than the searcher's (the family's), and a hash of an
 * 11-digit number with a checksum is reversed by trying them all, so the
 * value is left out. Who searched for whom is still recorded by the
 * resources the search handed out (entity.what).
 */
export function withoutNationalIds(query: string): string {
  return query.replace(NATIONAL_ID, '[national-id]');
}

export function buildAuditEvent(input: AuditInput): AuditEvent {
  const subtype: Coding = input.interaction === 'unknown'
    ? { system: RESTFUL_INTERACTION_SYSTEM, code: 'operation', display: `${input.method.toUpperCase()} (not a FHIR interaction)` }
    : { system: RESTFUL_INTERACTION_SYSTEM, code: input.interaction };
  const agent: AuditEventAgent[] = [clientAgent(input.actor, input.network)];
  if (input.actor) {
    const org = organisationAgent(input.actor, input.crossOrganisation);
    if (org) agent.push(org);
    const user = userAgent(input.actor);
    if (user) agent.push(user);
  }
  const entity: AuditEventEntity[] = [...new Set(input.entities ?? [])].map(resourceEntity);
  if (input.query) {
    entity.push({ type: ENTITY_TYPE_SYSTEM_OBJECT, role: ENTITY_ROLE_QUERY, query: Buffer.from(withoutNationalIds(input.query), 'utf8').toString('base64') });
  }
  for (const org of input.crossOrganisation?.organisations ?? []) {
    // The organisations whose families' data was disclosed, so each can search "who saw our data" by entity.
    entity.push({ what: { reference: org }, type: ENTITY_TYPE_SYSTEM_OBJECT, role: ENTITY_ROLE_DOMAIN_RESOURCE, description: 'organisation whose data was disclosed' });
  }
  const outcome = auditOutcome(input.status, input.aborted);
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    type: TYPE_REST,
    subtype: [subtype],
    action: auditAction(input.interaction, input.method),
    recorded: input.recorded.toISOString(),
    outcome,
    agent,
    source: { site: input.source.site, observer: { display: input.source.observer }, type: [SOURCE_WEB_SERVER] },
  };
  const description = input.aborted ? 'The client closed the connection before the response was sent.' : input.outcomeDescription;
  if (outcome !== '0') event.outcomeDesc = description ?? `HTTP ${input.status}`;
  if (entity.length > 0) event.entity = entity;
  return event;
}
