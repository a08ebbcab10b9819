/**
 * Builders from a family's pathway to the FHIR resources other systems read:
 * the CarePlan (one activity per contact, screening and intervention, with
 * its status and scheduled period, instantiatesCanonical = the pinned
 * definition), planned Encounters, Communications to the coordinator,
 * ServiceRequest + Task for a handoff and a Task for a check.
 *
 * Inputs are plain descriptions (this module knows nothing of workflows);
 * ids are derived from the family and the step, so writing the same thing
 * twice updates one resource instead of creating two.
 * (https://hl7.org/fhir/R4/careplan.html, encounter.html, task.html,
 * communication.html, servicerequest.html)
 */
import { createHash } from 'node:crypto';
import type { CarePlan, CarePlanActivity, Coding, Communication, Consent, Encounter, Organization, Reference, ServiceRequest, Task } from '@medplum/fhirtypes';
import { buildLegalBasisConsent, HANDOFF_RELEASE_CATEGORY, isLegalBasis, LEGAL_BASIS_EXTENSION, legalBasisCoding, type LegalBasisCode } from './legal-basis';

export const FORLOP_SYSTEMS = {
  family: 'https://forlop.no/fhir/sid/family',
  pathwayStep: 'https://forlop.no/fhir/sid/pathway-step',
  notification: 'https://forlop.no/fhir/sid/notification',
  handoff: 'https://forlop.no/fhir/sid/handoff',
  check: 'https://forlop.no/fhir/sid/check',
  stepState: 'https://forlop.no/fhir/CodeSystem/step-state',
  communicationCategory: 'https://forlop.no/fhir/CodeSystem/communication-category',
  phaseExtension: 'https://forlop.no/fhir/StructureDefinition/pathway-phase',
  taskInput: 'https://forlop.no/fhir/CodeSystem/task-input',
} as const;

/** A stable resource id (UUID form) for a thing of a family, e.g. (family, 'Encounter', 'hs-6w'). */
export function stableId(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

export const carePlanId = (familyId: string) => stableId(familyId, 'CarePlan');

/** A reference to an organisation when it is known, otherwise the service's name. */
export type Party = Reference<Organization>;

export interface CarePlanActivityInput {
  key: string;
  title: string;
  code: Coding;
  /** The step's state in the pathway (planned, overdue, done, active, ...). */
  state: string;
  performer: Party;
  period?: { start?: string; end?: string };
  /** Interventions: sessions every `every` (FHIR Timing units: d, wk, mo, a). */
  repeat?: { period: number; periodUnit: 'h' | 'd' | 'wk' | 'mo' | 'a'; count?: number; bounds: { start?: string; end?: string } };
  source?: string;
  reason?: string;
}

export interface CarePlanInput {
  familyId: string;
  canonical: string;
  title: string;
  status: 'active' | 'on-hold' | 'completed' | 'revoked';
  subject: string;
  author: string;
  coordinator?: string;
  phase?: { id: string; title: string };
  period: { start: string; end?: string };
  activities: CarePlanActivityInput[];
}

/** Pathway step states to CarePlan.activity.detail.status (required binding care-plan-activity-status). */
const ACTIVITY_STATUS: Record<string, NonNullable<CarePlanActivity['detail']>['status']> = {
  waiting: 'not-started',
  planned: 'scheduled',
  overdue: 'scheduled',
  done: 'completed',
  active: 'in-progress',
  completed: 'completed',
  cancelled: 'cancelled',
  stopped: 'stopped',
  'not-applicable': 'cancelled',
};

export function buildCarePlan(input: CarePlanInput): CarePlan {
  return {
    resourceType: 'CarePlan',
    id: carePlanId(input.familyId),
    identifier: [{ system: FORLOP_SYSTEMS.family, value: input.familyId }],
    instantiatesCanonical: [input.canonical],
    status: input.status,
    intent: 'plan',
    title: input.title,
    subject: { reference: input.subject },
    period: input.period,
    author: { reference: input.author },
    ...(input.coordinator ? { contributor: [{ reference: input.coordinator }] } : {}),
    ...(input.phase ? { extension: [{ url: FORLOP_SYSTEMS.phaseExtension, valueCoding: { system: input.canonical.split('|')[0], code: input.phase.id, display: input.phase.title } }] } : {}),
    activity: input.activities.map((a) => ({
      detail: {
        code: { coding: [a.code], text: a.title },
        status: ACTIVITY_STATUS[a.state] ?? 'unknown',
        // The pathway's own state (overdue, not-applicable...) is finer than the FHIR status.
        statusReason: { coding: [{ system: FORLOP_SYSTEMS.stepState, code: a.state }], ...(a.reason ? { text: a.reason } : {}) },
        description: a.title,
        performer: [a.performer],
        ...(a.repeat
          ? { scheduledTiming: { repeat: { frequency: 1, period: a.repeat.period, periodUnit: a.repeat.periodUnit, ...(a.repeat.count ? { count: a.repeat.count } : {}), ...(a.repeat.bounds.start || a.repeat.bounds.end ? { boundsPeriod: a.repeat.bounds } : {}) } } }
          : a.period
            ? { scheduledPeriod: a.period }
            : {}),
      },
      ...(a.source ? { progress: [{ text: `Step ${a.key}; source: ${a.source}` }] } : { progress: [{ text: `Step ${a.key}` }] }),
    })),
  };
}

export interface PlannedEncounterInput {
  familyId: string;
  stepKey: string;
  status: 'planned' | 'cancelled';
  encounterClass: string;
  type: Coding;
  subject: string;
  serviceProvider?: string;
  period: { start: string; end: string };
}

export function buildPlannedEncounter(input: PlannedEncounterInput): Encounter {
  return {
    resourceType: 'Encounter',
    id: stableId(input.familyId, 'Encounter', input.stepKey),
    identifier: [{ system: FORLOP_SYSTEMS.pathwayStep, value: `${input.familyId}/${input.stepKey}` }],
    status: input.status,
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: input.encounterClass },
    type: [{ coding: [input.type] }],
    subject: { reference: input.subject },
    period: input.period,
    ...(input.serviceProvider ? { serviceProvider: { reference: input.serviceProvider } } : {}),
  };
}

export interface CoordinatorNoticeInput {
  familyId: string;
  key: string;
  on: string;
  text: string;
  subject: string;
  sender: string;
  recipient?: string;
  priority?: 'routine' | 'urgent';
}

/** A message to the family's coordinator (a missed contact, a screening result that needs action). */
export function buildCoordinatorNotice(input: CoordinatorNoticeInput): Communication {
  return {
    resourceType: 'Communication',
    id: stableId(input.familyId, 'Communication', input.key),
    identifier: [{ system: FORLOP_SYSTEMS.notification, value: `${input.familyId}/${input.key}` }],
    status: 'completed',
    category: [{ coding: [{ system: FORLOP_SYSTEMS.communicationCategory, code: 'coordinator-notification', display: 'Melding til koordinator' }] }],
    priority: input.priority ?? 'routine',
    subject: { reference: input.subject },
    about: [{ reference: `CarePlan/${carePlanId(input.familyId)}` }],
    sent: input.on,
    sender: { reference: input.sender },
    ...(input.recipient ? { recipient: [{ reference: input.recipient }] } : {}),
    payload: [{ contentString: input.text }],
  };
}

export interface HandoffRequestInput {
  familyId: string;
  key: string;
  on: string;
  title: string;
  reason?: Coding;
  legalBasis: LegalBasisCode;
  subject: string;
  requester: Party;
  owner: Party;
}

/** The Consent recording a handoff's legal basis: written with (before) the ServiceRequest and Task, in the same transaction. */
export const handoffConsentId = (familyId: string, key: string) => stableId(familyId, 'Consent', key);
export const handoffTaskId = (familyId: string, key: string) => stableId(familyId, 'Task', key);
const handoffIdentifier = (familyId: string, key: string) => [{ system: FORLOP_SYSTEMS.handoff, value: `${familyId}/${key}` }];

function handoffConsent(input: { familyId: string; key: string; on: string; legalBasis: string; subject: string; requester: Party; owner: Party; data: string }): Consent {
  if (!isLegalBasis(input.legalBasis)) throw new TypeError(`Unknown legal basis '${input.legalBasis}'`);
  return buildLegalBasisConsent({
    id: handoffConsentId(input.familyId, input.key),
    identifier: handoffIdentifier(input.familyId, input.key),
    basis: input.legalBasis,
    status: 'active',
    category: HANDOFF_RELEASE_CATEGORY,
    patient: input.subject,
    on: input.on,
    sender: input.requester,
    receiver: input.owner,
    data: input.data,
  });
}

/**
 * A handoff as the closed-loop referral pattern has it: what is asked
 * (ServiceRequest) and who must act (Task), with the legal basis for sharing
 * recorded first (Consent, referenced as ServiceRequest.supportingInfo).
 */
export function buildHandoffRequest(input: HandoffRequestInput): { consent: Consent; serviceRequest: ServiceRequest; task: Task } {
  const serviceRequestId = stableId(input.familyId, 'ServiceRequest', input.key);
  const identifier = handoffIdentifier(input.familyId, input.key);
  const consent = handoffConsent({ ...input, data: `ServiceRequest/${serviceRequestId}` });
  return {
    consent,
    serviceRequest: {
      resourceType: 'ServiceRequest',
      id: serviceRequestId,
      identifier,
      extension: [{ url: LEGAL_BASIS_EXTENSION, valueCoding: legalBasisCoding(input.legalBasis) }],
      status: 'active',
      intent: 'order',
      code: { text: input.title },
      ...(input.reason ? { reasonCode: [{ coding: [input.reason] }] } : {}),
      subject: { reference: input.subject },
      basedOn: [{ reference: `CarePlan/${carePlanId(input.familyId)}` }],
      authoredOn: input.on,
      requester: input.requester,
      performer: [input.owner],
      supportingInfo: [{ reference: `Consent/${consent.id}`, display: 'Legal basis for sharing' }],
      note: [{ text: `Legal basis for sharing: ${input.legalBasis}` }],
    },
    task: {
      resourceType: 'Task',
      id: handoffTaskId(input.familyId, input.key),
      identifier,
      status: 'requested',
      businessStatus: { text: 'created' },
      intent: 'order',
      description: input.title,
      focus: { reference: `ServiceRequest/${serviceRequestId}` },
      for: { reference: input.subject },
      authoredOn: input.on,
      requester: input.requester,
      owner: input.owner,
    },
  };
}

export interface ReferralTaskInput {
  familyId: string;
  key: string;
  on: string;
  title: string;
  legalBasis: LegalBasisCode;
  subject: string;
  /** The ServiceRequest another system wrote (ServiceRequest/123). */
  serviceRequest: string;
  /** Its requester and performer: who asks and who must act. */
  requester: Party;
  owner: Party;
}

/**
 * A referral another system wrote (its ServiceRequest) taken into a handoff:
 * the Task for the performer (focus the ServiceRequest), with the legal
 * basis recorded as a Consent and named as the Task's input.
 */
export function buildReferralTask(input: ReferralTaskInput): { consent: Consent; task: Task } {
  const identifier = handoffIdentifier(input.familyId, input.key);
  const consent = handoffConsent({ ...input, data: input.serviceRequest });
  return {
    consent,
    task: {
      resourceType: 'Task',
      id: handoffTaskId(input.familyId, input.key),
      identifier,
      extension: [{ url: LEGAL_BASIS_EXTENSION, valueCoding: legalBasisCoding(input.legalBasis) }],
      status: 'requested',
      businessStatus: { text: 'created' },
      intent: 'order',
      description: input.title,
      focus: { reference: input.serviceRequest },
      for: { reference: input.subject },
      basedOn: [{ reference: input.serviceRequest }],
      authoredOn: input.on,
      requester: input.requester,
      owner: input.owner,
      input: [{ type: { coding: [{ system: FORLOP_SYSTEMS.taskInput, code: 'legal-basis' }], text: 'Legal basis for sharing' }, valueReference: { reference: `Consent/${consent.id}` } }],
    },
  };
}

export interface CheckTaskInput {
  familyId: string;
  key: string;
  on: string;
  due: string;
  title: string;
  code?: Coding;
  subject: string;
  owner: Party;
  requester: Party;
}

/** A duty to do and record (e.g. the helsepersonelloven §10a check), as a Task with its deadline. */
export function buildCheckTask(input: CheckTaskInput): Task {
  return {
    resourceType: 'Task',
    id: stableId(input.familyId, 'Task', input.key),
    identifier: [{ system: FORLOP_SYSTEMS.check, value: `${input.familyId}/${input.key}` }],
    status: 'requested',
    intent: 'order',
    ...(input.code ? { code: { coding: [input.code] } } : {}),
    description: input.title,
    for: { reference: input.subject },
    basedOn: [{ reference: `CarePlan/${carePlanId(input.familyId)}` }],
    authoredOn: input.on,
    requester: input.requester,
    owner: input.owner,
    restriction: { period: { end: input.due } },
  };
}
