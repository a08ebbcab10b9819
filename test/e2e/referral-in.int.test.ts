/**
 * End to end over HTTP: referrals and screenings that other systems write.
 * (b) The familieambulatorium (a hospital client, on the family's care team)
 * refers the mother to DPS with its own ServiceRequest; the pathway takes it
 * in as the DPS handoff: a Task owned by DPS for that ServiceRequest, with
 * the 10-working-day deadline in the coordinator API once DPS has it; the
 * same version delivered again, or a new version, makes no second Task.
 * (c) An EPDS QuestionnaireResponse scoring 14 starts the same referral to
 * DPS an Observation of 14 would.
 */
import type { Bundle, ServiceRequest, Task } from '@medplum/fhirtypes';
import { FORLOP_SYSTEMS } from '../../fhir/builders/pathway';
import type { FamilySummary } from '../../server/coordinator/api';
import { startStack, type Stack } from './harness';

jest.setTimeout(180_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack('2026-11-03', 'e2e-referral-in');
});
afterAll(async () => {
  await stack?.close();
});

type Detail = FamilySummary & { timeline: { on: string; what: string }[] };


const dpsTasks = async (token: string, patient: string) => {
  const found = await stack.call<Bundle<Task>>(token, 'GET', `/fhir/Task?owner=Organization/sykehuset-ostfold-dps&patient=${patient}`);
  expect(found.status).toBe(200);
  return (found.body.entry ?? []).map((e) => e.resource!).filter((t) => t.identifier?.some((i) => i.system === FORLOP_SYSTEMS.handoff));
};

it('takes a referral another system writes into the handoff to DPS, once, with its deadline', async () => {
  const helsestasjon = await stack.token('helsestasjon');
  const familieambulatorium = await stack.token('familieambulatorium');
  const dps = await stack.token('dps');
  const coordinator = await stack.token('koordinator', 'system/*.rs');
  const { patient, familyId } = await stack.enrol(helsestasjon, '2027-04-01');
  // The familieambulatorium follows the family: the helsestasjon puts it on the care team.
  const team = await stack.call(helsestasjon, 'POST', '/fhir/CareTeam', {
    resourceType: 'CareTeam',
    status: 'active',
    subject: { reference: patient },
    managingOrganization: [{ reference: 'Organization/sarpsborg-helsestasjon' }],
    participant: [{ member: { reference: 'Organization/ostfold-familieambulatorium' } }],
  });
  expect(team.status).toBe(201);
  await stack.route();

  // Its system refers the mother to DPS on 4 November.
  await stack.sleepUntil('2026-11-04');
  const referral = await stack.call<ServiceRequest>(familieambulatorium, 'POST', '/fhir/ServiceRequest', {
    resourceType: 'ServiceRequest',
    status: 'active',
    intent: 'order',
    code: { text: 'Henvisning til DPS: vurdering av depresjon i svangerskapet' },
    subject: { reference: patient },
    authoredOn: '2026-11-04',
    requester: { reference: 'Organization/ostfold-familieambulatorium' },
    performer: [{ reference: 'Organization/sykehuset-ostfold-dps' }],
  });
  expect(referral.status).toBe(201);
  await stack.route();
  await stack.sleepUntil('2026-11-05');

  // DPS finds a Task for that very ServiceRequest, asked by the familieambulatorium.
  let tasks = await dpsTasks(dps, patient);
  expect(tasks).toHaveLength(1);
  expect(tasks[0]).toMatchObject({ status: 'requested', focus: { reference: `ServiceRequest/${referral.body.id}` }, requester: { reference: 'Organization/ostfold-familieambulatorium' }, owner: { reference: 'Organization/sykehuset-ostfold-dps' }, for: { reference: patient } });

  // The same version delivered again (the router re-reads the feed from the start), and a new version: still one Task.
  await stack.store.saveCheckpoint('pathway-router', 0);
  const amended = await stack.call<ServiceRequest>(familieambulatorium, 'PUT', `/fhir/ServiceRequest/${referral.body.id}`, { ...referral.body, note: [{ text: 'Termin 1. april' }] });
  expect(amended.status).toBe(200);
  await stack.route();
  await stack.sleepUntil('2026-11-06');
  tasks = await dpsTasks(dps, patient);
  expect(tasks).toHaveLength(1);

  // DPS marks it received on Friday 6 November; the ten working days (pasient- og brukerrettighetsloven §2-2) ran from its arrival on 4 November, to 18 November, in the coordinator API.
  const received = await stack.call<Task>(dps, 'PUT', `/fhir/Task/${tasks[0].id}`, { ...tasks[0], status: 'received', lastModified: '2026-11-06' });
  expect(received.status).toBe(200);
  await stack.route();
  const detail = await stack.call<Detail>(coordinator, 'GET', `/api/families/${familyId}`);
  expect(detail.status).toBe(200);
  expect(detail.body.openHandoffs).toEqual([expect.objectContaining({ handoff: 'mental-health-referral', status: 'received', deadline: '2026-11-18', daysLeft: 12, serviceRequest: `ServiceRequest/${referral.body.id}` })]);
  expect(detail.body.timeline.filter((e) => /Referral received/.test(e.what))).toHaveLength(1);
});

it('refers an EPDS QuestionnaireResponse of 14 to DPS, as an Observation of 14 would', async () => {
  const helsestasjon = await stack.token('helsestasjon');
  const dps = await stack.token('dps');
  const coordinator = await stack.token('koordinator', 'system/*.rs');
  const { patient, familyId } = await stack.enrol(helsestasjon, '2027-01-20');
  await stack.route();
  await stack.sleepUntil('2026-11-09');
  // Ten items, 0-3 each, summing to 14; item 10 (self-harm) 0.
  const answers = [2, 2, 2, 2, 1, 2, 1, 1, 1, 0];
  const response = await stack.call(helsestasjon, 'POST', '/fhir/QuestionnaireResponse', {
    resourceType: 'QuestionnaireResponse',
    questionnaire: 'https://forlop.no/fhir/Questionnaire/epds',
    status: 'completed',
    subject: { reference: patient },
    authored: '2026-11-09',
    author: { reference: 'Organization/sarpsborg-helsestasjon' },
    item: answers.map((a, i) => ({ linkId: String(i + 1), answer: [{ valueInteger: a }] })),
  });
  expect(response.status).toBe(201);
  await stack.route();
  await stack.sleepUntil('2026-11-10');

  const tasks = await dpsTasks(dps, patient);
  expect(tasks).toHaveLength(1);
  expect(tasks[0]).toMatchObject({ status: 'requested', requester: { reference: 'Organization/sarpsborg-helsestasjon' }, authoredOn: '2026-11-09' });
  const detail = await stack.call<Detail>(coordinator, 'GET', `/api/families/${familyId}`);
  expect(detail.body.openHandoffs).toEqual([expect.objectContaining({ key: 'mental-health-referral-1', handoff: 'mental-health-referral', status: 'requested', openedOn: '2026-11-09' })]);
  expect(detail.body.timeline.map((e) => e.what)).toEqual(expect.arrayContaining(['Edinburgh Postnatal Depression Scale: 14 (Probable depression)', 'Rule EPDS 13 or more leads to a clinical interview and referral']));
});
