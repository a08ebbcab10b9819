/**
 * Which pathway event a stored FHIR resource version means, if any:
 *  - EpisodeOfCare of type Forløp pathway: enrolment (or, finished/cancelled, the end);
 *  - Encounter finished (or cancelled, when not one Forløp planned itself): a contact,
 *    once per Encounter and outcome (later versions of it are not new contacts);
 *  - Observation coded as one of the plan's instruments: a screening result
 *    (components coded with the item number give item answers, e.g. EPDS item 10);
 *  - Patient linked to the mother, with a birth date: the birth;
 *  - Task that is a Forløp handoff, moved by its owner: handoff progress;
 *  - QuestionnaireResponse completed for one of the plan's instruments (by its
 *    Questionnaire's canonical url): a screening result, scored here;
 *  - Consent of the pathway-sharing category: the family's answer on a legal
 *    basis (active, rejected, or inactive = withdrawn);
 *  - ServiceRequest another system wrote (no Forløp handoff identifier),
 *    active, addressed to one of the family's services whose handoff takes
 *    referrals: a referral in, started as a handoff.
 * Each event's id is the resource version it came from (an Encounter's: the
 * Encounter and its outcome; a birth's: the child), so delivering the same
 * thing twice changes nothing (the workflow drops ids it has applied).
 */
import type { Consent, Encounter, EpisodeOfCare, Observation, Patient, QuestionnaireResponse, Reference, Resource, ServiceRequest, Task } from '@medplum/fhirtypes';
import { CONSENT_CATEGORY_SYSTEM, isLegalBasis, LEGAL_BASIS_SYSTEM, PATHWAY_SHARING_CATEGORY } from '../fhir/builders/legal-basis';
import { FORLOP_SYSTEMS, stableId } from '../fhir/builders/pathway';
import { osloDate } from '../pathways/calendar';
import type { Plan } from '../pathways/plan';
import type { PathwayEvent } from '../workflows/pathway-events';
import { questionnaireUrl, scoreQuestionnaire } from './questionnaire-score';

export const PATHWAY_TYPE_SYSTEM = 'https://forlop.no/fhir/CodeSystem/pathway';
export const DUE_DATE_EXTENSION = 'https://forlop.no/fhir/StructureDefinition/estimated-due-date';
/** The child's birth date, for a family enrolled after the birth (the plan is anchored on it instead of the due date). */
export const BIRTH_DATE_EXTENSION = 'https://forlop.no/fhir/StructureDefinition/child-birth-date';
export const INSTRUMENT_ITEM_SYSTEM = 'https://forlop.no/fhir/CodeSystem/instrument-item';
/** Task.businessStatus codes for the steps of a treatment path: first-attendance and the definition's milestone ids. */
export const HANDOFF_STEP_SYSTEM = 'https://forlop.no/fhir/CodeSystem/handoff-step';

export interface Enrolment {
  kind: 'enrol';
  episode: string;
  definition: string;
  patient: string;
  organization: string;
  coordinator?: string;
  enrolment: string;
  dueDate?: string;
  birth?: string;
}

export type Routed =
  | Enrolment
  | { kind: 'event'; patient: string; event: PathwayEvent }
  /** An Observation: whether it is a screening depends on the family's plan (screeningEvent). */
  | { kind: 'observation'; patient: string; observation: Observation }
  /** A QuestionnaireResponse: scored as a screening when its Questionnaire is one of the plan's instruments (questionnaireEvent). */
  | { kind: 'questionnaire'; patient: string; response: QuestionnaireResponse }
  /** A ServiceRequest from another system: a referral in when addressed to one of the plan's services that takes referrals (referralEvent). */
  | { kind: 'referral'; patient: string; serviceRequest: ServiceRequest };

/** A family as the router finds it: its id and the plan it is pinned to. */
export interface FamilyContext {
  familyId: string;
  plan: Plan;
  /** The family's municipality (its EpisodeOfCare's managing organisation). */
  organization?: string;
}

const day = (value: string | undefined, fallback: string) => (value ? (value.length === 10 ? value : osloDate(value)) : fallback);
const versionId = (r: Resource) => `${r.resourceType}/${r.id}/_history/${r.meta?.versionId ?? '1'}`;

/**
 * The step a result or contact names (issue #29): a reference (basedOn, or an
 * Encounter's partOf) carrying the pathway-step identifier Forløp gives each
 * CarePlan activity and planned Encounter (<family>/<step key>). The family's
 * workflow gives the result exactly that step, or refuses it with the reason.
 */
export function linkedStep(references: (Reference | undefined)[] | undefined): string | undefined {
  const value = references?.find((r) => r?.identifier?.system === FORLOP_SYSTEMS.pathwayStep)?.identifier?.value;
  return value?.includes('/') ? value.split('/').slice(1).join('/') : undefined;
}

/** Why a linked screening cannot fulfil the step it names in the plan (the step key, or the step id with -2, -3...), or undefined when it can. */
function linkProblem(plan: Plan, key: string, instrument: string): string | undefined {
  const step = plan.steps.find((p) => p.id === key || (key.startsWith(`${p.id}-`) && /^\d+$/.test(key.slice(p.id.length + 1))));
  if (!step) return `it names step '${key}', which ${plan.title} does not have`;
  if (step.kind !== 'screening' || step.instrument !== instrument) return `it names step '${key}' (${step.title}), which a ${plan.instruments[instrument]?.title ?? instrument} result cannot fulfil`;
  return undefined;
}

/** What a resource means before we know its family (enrolment needs none). */
export function routeResource(resource: Resource, today: string): Routed | undefined {
  switch (resource.resourceType) {
    case 'EpisodeOfCare':
      return routeEpisode(resource, today);
    case 'Encounter':
      return routeEncounter(resource, today);
    case 'Patient':
      return routeNewborn(resource);
    case 'Task':
      return routeTask(resource, today);
    case 'Observation':
      // Needs the family's plan to know the instrument: see screeningEvent.
      return resource.subject?.reference ? { kind: 'observation', patient: resource.subject.reference, observation: resource } : undefined;
    case 'QuestionnaireResponse':
      return resource.subject?.reference?.startsWith('Patient/') && ['completed', 'amended'].includes(resource.status) ? { kind: 'questionnaire', patient: resource.subject.reference, response: resource } : undefined;
    case 'Consent':
      return routeConsent(resource, today);
    case 'ServiceRequest':
      return routeServiceRequest(resource);
    default:
      return undefined;
  }
}

function routeEpisode(e: EpisodeOfCare, today: string): Routed | undefined {
  const definition = e.type?.flatMap((t) => t.coding ?? []).find((c) => c.system === PATHWAY_TYPE_SYSTEM)?.code;
  if (!definition || !e.patient?.reference || !e.id) return undefined;
  if (e.status === 'finished' || e.status === 'cancelled') {
    return { kind: 'event', patient: e.patient.reference, event: { type: 'ended', date: day(e.period?.end, today), reason: `EpisodeOfCare ${e.status}`, eventId: versionId(e) } };
  }
  if (e.status !== 'active' || !e.managingOrganization?.reference) return undefined;
  const dueDate = e.extension?.find((x) => x.url === DUE_DATE_EXTENSION)?.valueDate;
  const birth = e.extension?.find((x) => x.url === BIRTH_DATE_EXTENSION)?.valueDate;
  return {
    kind: 'enrol',
    episode: e.id,
    definition,
    patient: e.patient.reference,
    organization: e.managingOrganization.reference,
    ...(e.careManager?.reference ? { coordinator: e.careManager.reference } : {}),
    enrolment: day(e.period?.start, today),
    ...(dueDate ? { dueDate } : {}),
    ...(birth ? { birth } : {}),
  };
}

function routeEncounter(e: Encounter, today: string): Routed | undefined {
  if (!e.subject?.reference) return undefined;
  const own = e.identifier?.find((i) => i.system === FORLOP_SYSTEMS.pathwayStep)?.value;
  // The planned Encounter itself, or a new one that names it or the CarePlan activity.
  const linked = own ? undefined : linkedStep([...(e.basedOn ?? []), e.partOf]);
  const planned = own ?? (linked ? `/${linked}` : undefined);
  // Forløp writes its planned Encounters as planned or cancelled; only a service finishing one is news.
  const status = e.status === 'finished' ? 'finished' : e.status === 'cancelled' && !own ? 'cancelled' : undefined;
  if (!status) return undefined;
  const code = e.type?.[0]?.coding?.[0];
  return {
    kind: 'event',
    patient: e.subject.reference,
    event: {
      type: 'encounter-recorded',
      status,
      date: day(e.period?.start, today),
      ...(planned ? { step: planned.split('/').slice(1).join('/') } : {}),
      ...(code?.system && code.code ? { code: { system: code.system, code: code.code } } : {}),
      encounter: `Encounter/${e.id}`,
      // One event per encounter and outcome, whatever versions the service writes (a retried PUT, a
      // correction of a note): an Encounter finished twice is still one contact or one session.
      eventId: `${status}:Encounter/${e.id}`,
    },
  };
}

function routeNewborn(p: Patient): Routed | undefined {
  const mother = p.link?.find((l) => l.other?.reference?.startsWith('Patient/'))?.other?.reference;
  if (!mother || !p.birthDate) return undefined;
  // One birth per child, whichever version of the child's Patient arrives first.
  return { kind: 'event', patient: mother, event: { type: 'birth-registered', date: p.birthDate, child: `Patient/${p.id}`, eventId: `birth:Patient/${p.id}` } };
}

function routeTask(t: Task, today: string): Routed | undefined {
  const handoff = t.identifier?.find((i) => i.system === FORLOP_SYSTEMS.handoff)?.value;
  if (!handoff || !t.for?.reference || t.status === 'requested' || t.status === 'draft') return undefined;
  const step = t.businessStatus?.coding?.find((c) => c.system === HANDOFF_STEP_SYSTEM)?.code;
  return {
    kind: 'event',
    patient: t.for.reference,
    event: {
      type: 'handoff-updated',
      key: handoff.split('/').slice(1).join('/'),
      status: t.status as never,
      ...(step ? { step } : {}),
      date: day(t.lastModified ?? t.meta?.lastUpdated, today),
      eventId: versionId(t),
    },
  };
}

/** The family's consent to sharing (pathway-sharing category): active, rejected, or inactive = withdrawn; the basis from policyRule (default consent). */
function routeConsent(c: Consent, today: string): Routed | undefined {
  const sharing = c.category?.some((cat) => cat.coding?.some((x) => x.system === CONSENT_CATEGORY_SYSTEM && x.code === PATHWAY_SHARING_CATEGORY));
  // A handoff's own record of its legal basis is Forløp's output, not the family's answer.
  const handoff = c.identifier?.some((i) => i.system === FORLOP_SYSTEMS.handoff);
  const status = ({ active: 'active', rejected: 'rejected', inactive: 'withdrawn' } as const)[c.status as 'active' | 'rejected' | 'inactive'];
  if (!sharing || handoff || !status || !c.patient?.reference) return undefined;
  const code = c.policyRule?.coding?.find((x) => x.system === LEGAL_BASIS_SYSTEM)?.code ?? 'consent';
  if (!isLegalBasis(code)) return undefined;
  return { kind: 'event', patient: c.patient.reference, event: { type: 'consent-changed', basis: code, status, date: day(c.dateTime, today), eventId: versionId(c) } };
}

function routeServiceRequest(sr: ServiceRequest): Routed | undefined {
  // Forløp's own handoffs carry its handoff identifier: they are what the pathway sent, not news.
  if (sr.identifier?.some((i) => i.system === FORLOP_SYSTEMS.handoff)) return undefined;
  if (sr.status !== 'active' || !['order', 'plan', 'original-order'].includes(sr.intent) || !sr.subject?.reference?.startsWith('Patient/') || !sr.performer?.length) return undefined;
  return { kind: 'referral', patient: sr.subject.reference, serviceRequest: sr };
}

/**
 * A referral in: the ServiceRequest's performer is the organisation of one of
 * the family's services (the configured service organisations), and the
 * family's plan has a handoff to that service started by referrals. The
 * handoff's key derives from the ServiceRequest id (hashed: an id is the
 * writer's choice and must not reach workflow ids), so it starts once.
 */
export function referralEvent(sr: ServiceRequest, plan: Plan, services: Record<string, string>, today: string): PathwayEvent | undefined {
  for (const performer of sr.performer ?? []) {
    const reference = performer.reference;
    if (!reference?.startsWith('Organization/')) continue;
    const handoff = Object.values(plan.handoffs).find((h) => h.startedBy.includes('referral') && services[h.to] === reference);
    if (!handoff) continue;
    const requester = sr.requester?.reference;
    return {
      type: 'referral-received',
      handoff: handoff.id,
      key: `${handoff.id}-in-${stableId('referral', 'ServiceRequest', sr.id!).replace(/-/g, '').slice(0, 12)}`,
      serviceRequest: `ServiceRequest/${sr.id}`,
      performer: reference,
      ...(requester ? { requester } : {}),
      date: day(sr.authoredOn, today),
      eventId: versionId(sr),
    };
  }
  return undefined;
}

/** A screening result from a QuestionnaireResponse for one of the plan's instruments; `problem` when it cannot be scored. */
export function questionnaireEvent(qr: QuestionnaireResponse, plan: Plan, today: string): { event?: PathwayEvent; problem?: string } {
  const url = questionnaireUrl(qr);
  const instrument = Object.values(plan.instruments).find((i) => i.questionnaire !== undefined && i.questionnaire === url);
  if (!instrument) return {};
  const scored = scoreQuestionnaire(qr, instrument.items);
  if ('problem' in scored) return { problem: `${instrument.title}: ${scored.problem}` };
  const step = linkedStep(qr.basedOn);
  const refused = step ? linkProblem(plan, step, instrument.id) : undefined;
  if (refused) return { problem: `${instrument.title}: ${refused}` };
  return { event: { type: 'screening-recorded', instrument: instrument.id, score: scored.score, items: scored.items, ...(step ? { step } : {}), date: day(qr.authored, today), resource: `QuestionnaireResponse/${qr.id}`, eventId: versionId(qr) } };
}

/** A screening result, when the Observation is coded as one of the family's plan's instruments. */
export function screeningEvent(o: Observation, plan: Plan, today: string): PathwayEvent | undefined {
  const codes = o.code?.coding ?? [];
  const instrument = Object.values(plan.instruments).find((i) => codes.some((c) => c.system === i.code.system && c.code === i.code.code));
  const score = o.valueInteger ?? o.valueQuantity?.value;
  if (!instrument || typeof score !== 'number' || !['final', 'amended', 'corrected'].includes(o.status)) return undefined;
  const items: Record<string, number> = {};
  for (const component of o.component ?? []) {
    const item = component.code?.coding?.find((c) => c.system === INSTRUMENT_ITEM_SYSTEM)?.code;
    const value = component.valueInteger ?? component.valueQuantity?.value;
    if (item && typeof value === 'number') items[item] = value;
  }
  // A link the plan cannot honour is still delivered: the family's workflow refuses it and shows why on the timeline.
  const step = linkedStep(o.basedOn);
  return { type: 'screening-recorded', instrument: instrument.id, score, items, ...(step ? { step } : {}), date: day(o.effectiveDateTime ?? o.issued, today), resource: `Observation/${o.id}`, eventId: versionId(o) };
}
