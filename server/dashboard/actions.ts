/**
 * The coordinator's actions, each one or two ordinary FHIR API calls with
 * the user's token, so each is checked (scope, organisation) and audited
 * like any client's, and reaches the workflow through the event router as
 * any system's write does (events/map-resource.ts):
 *  - a contact held: the planned Encounter finished (or a new finished one);
 *  - a contact missed: a cancelled Encounter of the step's type;
 *  - a screening result: an Observation coded as the instrument;
 *  - the pathway ended: the EpisodeOfCare finished, with the reason;
 *  - a referral: a ServiceRequest to the service the handoff goes to;
 *  - a Communication handled: tagged so.
 */
import type { Bundle, CarePlan, Communication, Encounter, EpisodeOfCare, Observation, ServiceRequest } from '@medplum/fhirtypes';
import { FORLOP_SYSTEMS, stableId } from '../../fhir/builders/pathway';
import type { Plan } from '../../pathways/plan';
import { handledTag } from '../../web/pages/family';
import { ApiError, type ApiClient } from './api-client';

export const END_REASON_EXTENSION = 'https://forlop.no/fhir/StructureDefinition/end-reason';

/** A form value the user must fix: shown on the page as it is. */
export class ActionInputError extends Error {
  override readonly name = 'ActionInputError';
}

const isDay = (value: string) => /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(value));

function activityOf(carePlan: CarePlan, stepKey: string) {
  return (carePlan.activity ?? []).find((a) => a.progress?.some((p) => p.text === `Step ${stepKey}` || p.text?.startsWith(`Step ${stepKey};`)));
}

export async function recordContact(api: ApiClient, input: { familyId: string; patient: string; carePlan: CarePlan; plan?: Plan; step: string; outcome: string; date: string }): Promise<void> {
  if (input.outcome !== 'held' && input.outcome !== 'missed') throw new ActionInputError('outcome must be held or missed');
  if (!isDay(input.date)) throw new ActionInputError('date must be a date (YYYY-MM-DD)');
  const activity = activityOf(input.carePlan, input.step);
  const coding = activity?.detail?.code?.coding?.[0];
  if (!activity || !coding?.system || !coding.code) throw new ActionInputError(`the family's plan has no open step ${input.step}`);
  const planStep = input.plan?.steps.find((s) => s.code.system === coding.system && s.code.code === coding.code);
  const encounterClass = planStep && 'encounterClass' in planStep ? planStep.encounterClass : 'AMB';
  if (input.outcome === 'held') {
    // The Encounter Forløp planned for the step, finished; a step without one gets a new Encounter naming the step.
    const plannedId = stableId(input.familyId, 'Encounter', input.step);
    let planned: Encounter | undefined;
    try {
      planned = await api.get<Encounter>(`/fhir/Encounter/${plannedId}`);
    } catch (error) {
      if (!(error instanceof ApiError && (error.status === 404 || error.status === 410))) throw error;
    }
    if (planned) {
      await api.send('PUT', `/fhir/Encounter/${plannedId}`, { ...planned, status: 'finished', period: { start: input.date, end: input.date } });
      return;
    }
    await api.send('POST', '/fhir/Encounter', {
      resourceType: 'Encounter',
      status: 'finished',
      identifier: [{ system: FORLOP_SYSTEMS.pathwayStep, value: `${input.familyId}/${input.step}` }],
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: encounterClass },
      type: [{ coding: [{ system: coding.system, code: coding.code }] }],
      subject: { reference: input.patient },
      period: { start: input.date, end: input.date },
    } satisfies Encounter);
    return;
  }
  // A missed contact: a cancelled Encounter of the step's type (the router reads it as "appointment cancelled" for the nearest open step of that type).
  await api.send('POST', '/fhir/Encounter', {
    resourceType: 'Encounter',
    status: 'cancelled',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: encounterClass },
    type: [{ coding: [{ system: coding.system, code: coding.code }] }],
    subject: { reference: input.patient },
    period: { start: input.date },
  } satisfies Encounter);
}

export async function recordScreening(api: ApiClient, input: { patient: string; plan?: Plan; instrument: string; score: string; date: string }): Promise<void> {
  const instrument = input.plan?.instruments[input.instrument];
  if (!instrument) throw new ActionInputError(`the family's pathway has no instrument ${input.instrument}`);
  const score = Number(input.score);
  if (!Number.isInteger(score) || score < instrument.min || score > instrument.max) throw new ActionInputError(`${instrument.title} scores are whole numbers from ${instrument.min} to ${instrument.max}`);
  if (!isDay(input.date)) throw new ActionInputError('date must be a date (YYYY-MM-DD)');
  await api.send('POST', '/fhir/Observation', {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: instrument.code.system, code: instrument.code.code }], text: instrument.title },
    subject: { reference: input.patient },
    effectiveDateTime: input.date,
    valueInteger: score,
  } satisfies Observation);
}

export async function endPathway(api: ApiClient, input: { patient: string; reason: string; today: string }): Promise<void> {
  const reason = input.reason.trim();
  if (!reason) throw new ActionInputError('give a reason for ending the pathway');
  const episodes = ((await api.get<Bundle>(`/fhir/EpisodeOfCare?patient=${input.patient}&status=active`)).entry ?? []).map((e) => e.resource as EpisodeOfCare);
  if (episodes.length === 0) throw new ActionInputError('the family has no active EpisodeOfCare to end');
  for (const episode of episodes) {
    await api.send('PUT', `/fhir/EpisodeOfCare/${episode.id}`, {
      ...episode,
      status: 'finished',
      period: { ...episode.period, end: input.today },
      extension: [...(episode.extension ?? []).filter((x) => x.url !== END_REASON_EXTENSION), { url: END_REASON_EXTENSION, valueString: reason.slice(0, 200) }],
    } satisfies EpisodeOfCare);
  }
}

export async function startReferral(api: ApiClient, input: { patient: string; plan?: Plan; handoff: string; services: Record<string, string>; requester?: string; today: string }): Promise<void> {
  const handoff = input.plan?.handoffs[input.handoff];
  if (!handoff || !handoff.startedBy.includes('referral')) throw new ActionInputError(`the family's pathway does not let a referral start ${input.handoff}`);
  const performer = input.services[handoff.to];
  if (!performer) throw new ActionInputError(`no organisation is configured for the service ${handoff.to} (FORLOP_SERVICE_ORGANISATIONS)`);
  await api.send('POST', '/fhir/ServiceRequest', {
    resourceType: 'ServiceRequest',
    status: 'active',
    intent: 'order',
    code: { ...(handoff.reason ? { coding: [handoff.reason] } : {}), text: handoff.title },
    subject: { reference: input.patient },
    authoredOn: input.today,
    performer: [{ reference: performer }],
    ...(input.requester ? { requester: { reference: input.requester } } : {}),
  } satisfies ServiceRequest);
}

export async function markHandled(api: ApiClient, communicationId: string): Promise<void> {
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(communicationId)) throw new ActionInputError('not a Communication id');
  const communication = await api.get<Communication>(`/fhir/Communication/${communicationId}`);
  const tags = (communication.meta?.tag ?? []).filter((t) => t.system !== handledTag.system);
  await api.send('PUT', `/fhir/Communication/${communicationId}`, { ...communication, meta: { ...communication.meta, tag: [...tags, handledTag] } });
}
