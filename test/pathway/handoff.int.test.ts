/**
 * A handoff as its own workflow: started by the family's pathway when a rule
 * says so (EPDS 16 in pregnancy: referral to DPS), it writes the
 * ServiceRequest + Task, counts the 10-working-day assessment deadline from
 * receipt (pasient- og brukerrettighetsloven §2-2; Easter skipped), reminds
 * the receiver, escalates to the coordinator and then to the service's
 * leader, each visible as a Communication on its day, and reports its status
 * to the family, whose state then opens the §10a check.
 */
import type { Consent, ServiceRequest, Task } from '@medplum/fhirtypes';
import { stableId } from '../../fhir/builders/pathway';
import { consentChangedSignal, handoffQuery, handoffWorkflowId, openHandoffsQuery, pathwayStateQuery, recordEventUpdate, referralReceivedSignal, taskStatusSignal } from '../../workflows/messages';
import { startFamily, type PathwayHarness } from './harness';
import { savePathwayHistories } from './history-fixtures';

jest.setTimeout(120_000);
let family: PathwayHarness | undefined;
afterEach(async () => {
  await family?.close();
  family = undefined;
});

/** Recorded for the replay test: the family's runs (with the patch markers) and the handoffs' own histories. */
async function record(scenario: string, keys: string[]) {
  const f = family!;
  const children = await Promise.all(keys.map(async (key) => {
    const child = f.env.client.workflow.getHandle(handoffWorkflowId(f.familyId, key));
    return { workflowId: child.workflowId, history: await child.fetchHistory() };
  }));
  savePathwayHistories(scenario, [...(await f.histories()), ...children]);
}

it('keeps the referral deadline with reminders and escalation, and reports back to the family', async () => {
  family = await startFamily({ definition: 'https://forlop.no/fhir/PlanDefinition/basis|1.0.0', enrolment: '2026-03-20', dueDate: '2026-09-15' });
  await family.sleepUntil('2026-03-26');
  await family.handle.executeUpdate(recordEventUpdate, { args: [{ type: 'screening-recorded', instrument: 'epds', score: 16, items: { '10': 0 }, date: '2026-03-26' }] });
  const key = 'mental-health-referral-1';
  const handoff = family.env.client.workflow.getHandle(handoffWorkflowId(family.familyId, key));
  // The request the receiving service acts on.
  await family.sleepUntil('2026-03-27');
  const task = await family.store.read<Task>('Task', stableId(family.familyId, 'Task', key));
  expect(task).toMatchObject({ status: 'requested', intent: 'order', owner: { reference: 'Organization/dps-fredrikstad' }, requester: { reference: 'Organization/sarpsborg-helsestasjon' }, authoredOn: '2026-03-26' });
  const request = await family.store.read<ServiceRequest>('ServiceRequest', task.focus!.reference!.split('/')[1]);
  expect(request).toMatchObject({ status: 'active', subject: { reference: 'Patient/mother-1' }, note: [{ text: 'Legal basis for sharing: health-personnel-cooperation' }] });
  expect((await family.handle.query(openHandoffsQuery)).map((h) => h.key)).toEqual([key]);

  // DPS receives it on Monday 30 March: ten working days, Easter skipped, is 16 April.
  await family.sleepUntil('2026-03-30');
  await handoff.signal(taskStatusSignal, { status: 'received', date: '2026-03-30', eventId: 'Task/t/_history/2' });
  await handoff.signal(taskStatusSignal, { status: 'received', date: '2026-03-30', eventId: 'Task/t/_history/2' });
  expect((await handoff.query(handoffQuery)).deadline).toBe('2026-04-16');
  // A move the Task state machine does not allow changes nothing.
  await handoff.signal(taskStatusSignal, { status: 'completed', date: '2026-03-30' });
  expect((await handoff.query(handoffQuery)).status).toBe('received');

  await family.sleepUntil('2026-04-23');
  const notices = (await family.notices()).filter((n) => n.payload?.[0]?.contentString?.includes('Henvisning til psykisk helsevern'));
  expect(notices.map((n) => [n.sent, n.priority, n.recipient?.[0]?.reference]).sort()).toEqual([
    ['2026-04-14', 'routine', 'Organization/dps-fredrikstad'],
    ['2026-04-17', 'urgent', 'Practitioner/coordinator-1'],
    ['2026-04-22', 'urgent', 'Organization/dps-fredrikstad'],
  ]);

  // DPS accepts: the family hears of it and the §10a check (children as next of kin) opens.
  await handoff.signal(taskStatusSignal, { status: 'accepted', date: '2026-04-23' });
  await family.sleepUntil('2026-04-24');
  const state = await family.handle.query(pathwayStateQuery);
  expect(state.handoffs).toEqual([expect.objectContaining({ key, status: 'accepted' })]);
  expect(state.checks).toEqual([expect.objectContaining({ check: 'section-10a', owner: 'dps', due: '2026-05-07', status: 'open' })]);
  await handoff.signal(taskStatusSignal, { status: 'in-progress', date: '2026-04-24' });
  await handoff.signal(taskStatusSignal, { status: 'completed', date: '2026-04-24' });
  expect(await handoff.result()).toEqual({ key, status: 'completed' });
  // Discharge: the handoff back to the municipality starts, with its own 7-day deadline from sending.
  await family.sleepUntil('2026-04-25');
  const back = family.env.client.workflow.getHandle(handoffWorkflowId(family.familyId, 'mental-health-discharge-1'));
  expect(await back.query(handoffQuery)).toMatchObject({ handoff: 'mental-health-discharge', status: 'requested', sentOn: '2026-04-24', deadline: '2026-05-01' });
  expect((await family.handle.query(openHandoffsQuery)).map((h) => h.key)).toEqual(['mental-health-discharge-1']);
  // ('handoff' was recorded before return handoffs existed and stays, to replay that path.)
  await record('handoff-return', [key, 'mental-health-discharge-1']);
});

it('times the pakkeforløp milestones a familieambulatorium referral reports, and tells the coordinator of a late one', async () => {
  family = await startFamily({ definition: 'Familieambulatorium', enrolment: '2026-03-02', dueDate: '2026-09-15' });
  const key = 'familieambulatorium-referral-1';
  const handoff = family.env.client.workflow.getHandle(handoffWorkflowId(family.familyId, key));
  await family.sleepUntil('2026-03-04');
  await handoff.signal(taskStatusSignal, { status: 'accepted', date: '2026-03-04' });
  await handoff.signal(taskStatusSignal, { status: 'in-progress', step: 'first-attendance', date: '2026-03-04' });
  // First attendance to clinical decision: at most 7 days; none by 11 March, so the coordinator hears on the 12th.
  await family.sleepUntil('2026-03-13');
  const late = (await family.notices()).filter((n) => /Klinisk beslutning/.test(n.payload?.[0]?.contentString ?? ''));
  expect(late.map((n) => [n.sent, n.priority, n.recipient?.[0]?.reference])).toEqual([['2026-03-12', 'urgent', 'Practitioner/coordinator-1']]);
  expect((await handoff.query(handoffQuery)).reached).toEqual({ accepted: ['2026-03-04'], 'first-attendance': ['2026-03-04'] });
  await record('milestones', [key]);
});

it('takes a referral in as a handoff once, holds it when the family refuses the legal basis, and sends a held one when it is given again', async () => {
  family = await startFamily({ definition: 'https://forlop.no/fhir/PlanDefinition/basis|1.0.0', enrolment: '2026-03-02', dueDate: '2026-09-15' });
  await family.sleepUntil('2026-03-04');
  const key = 'mental-health-referral-in-0123456789ab';
  const referral = { handoff: 'mental-health-referral', key, serviceRequest: 'ServiceRequest/gp-1', requester: 'Organization/legekontor', performer: 'Organization/dps-fredrikstad', date: '2026-03-04' };
  await family.handle.signal(referralReceivedSignal, { ...referral, eventId: 'ServiceRequest/gp-1/_history/1' });
  await family.handle.signal(referralReceivedSignal, { ...referral, eventId: 'ServiceRequest/gp-1/_history/2' });
  await family.sleepUntil('2026-03-05');
  const task = await family.store.read<Task>('Task', stableId(family.familyId, 'Task', key));
  expect(task).toMatchObject({ status: 'requested', focus: { reference: 'ServiceRequest/gp-1' }, requester: { reference: 'Organization/legekontor' }, owner: { reference: 'Organization/dps-fredrikstad' } });
  expect((await family.store.read<Consent>('Consent', stableId(family.familyId, 'Consent', key))).policyRule?.coding?.[0]?.code).toBe('health-personnel-cooperation');
  // The mother objects to sharing between health personnel: the undecided referral goes on hold.
  await family.handle.signal(consentChangedSignal, { basis: 'health-personnel-cooperation', status: 'rejected', date: '2026-03-05', eventId: 'Consent/c/_history/1' });
  await family.sleepUntil('2026-03-06');
  const handoff = family.env.client.workflow.getHandle(handoffWorkflowId(family.familyId, key));
  expect(await handoff.query(handoffQuery)).toMatchObject({ status: 'on-hold', held: expect.stringContaining('rejected') });
  expect((await family.store.read<Task>('Task', task.id!)).status).toBe('on-hold');
  // An EPDS of 16 now: the rule's referral is held, not sent; sent once she agrees again.
  await family.handle.executeUpdate(recordEventUpdate, { args: [{ type: 'screening-recorded', instrument: 'epds', score: 16, items: { '10': 0 }, date: '2026-03-06' }] });
  await family.handle.signal(referralReceivedSignal, { ...referral, key: 'mental-health-referral-in-ba9876543210', serviceRequest: 'ServiceRequest/gp-2', date: '2026-03-06' });
  let state = await family.handle.query(pathwayStateQuery);
  expect(state.handoffs.map((h) => [h.key, h.status, !!h.notSent])).toEqual([[key, 'on-hold', false], ['mental-health-referral-in-ba9876543210', 'on-hold', true]]);
  await family.sleepUntil('2026-03-09');
  await family.handle.signal(consentChangedSignal, { basis: 'health-personnel-cooperation', status: 'active', date: '2026-03-09', eventId: 'Consent/c/_history/2' });
  await family.sleepUntil('2026-03-10');
  state = await family.handle.query(pathwayStateQuery);
  expect(state.handoffs.map((h) => [h.key, h.status])).toEqual([[key, 'on-hold'], ['mental-health-referral-in-ba9876543210', 'requested']]);
  expect((await family.store.read<Task>('Task', stableId(family.familyId, 'Task', 'mental-health-referral-in-ba9876543210'))).focus?.reference).toBe('ServiceRequest/gp-2');
  await record('legal-basis-hold', [key, 'mental-health-referral-in-ba9876543210']);
});

it('counts an unopened referral from the day it is sent (Easter 2027), escalates it unopened, reminds, escalates, and reports a rejection at once (basis 1.1.0)', async () => {
  family = await startFamily({ definition: 'https://forlop.no/fhir/PlanDefinition/basis|1.1.0', enrolment: '2027-03-01', dueDate: '2027-08-20' });
  // EPDS 16 on Tuesday 23 March 2027: the referral to DPS is sent that day.
  await family.sleepUntil('2027-03-23');
  await family.handle.executeUpdate(recordEventUpdate, { args: [{ type: 'screening-recorded', instrument: 'epds', score: 16, items: { '10': 0 }, date: '2027-03-23' }] });
  const key = 'mental-health-referral-1';
  const handoff = family.env.client.workflow.getHandle(handoffWorkflowId(family.familyId, key));
  await family.sleepUntil('2027-03-24');
  // Ten working days from sending, skjærtorsdag, langfredag and 2. påskedag skipped: Friday 9 April, known from the start.
  expect(await handoff.query(handoffQuery)).toMatchObject({ status: 'requested', sentOn: '2027-03-23', deadline: '2027-04-09' });
  const about = (text: string) => async () => (await family!.notices()).filter((n) => n.payload?.[0]?.contentString?.includes(text)).map((n) => [n.sent, n.priority, n.recipient?.[0]?.reference]);
  // Nobody at DPS opens it: three working days after sending (Wednesday 31 March) the coordinator hears.
  await family.sleepUntil('2027-03-30');
  expect(await about('Not yet opened')()).toEqual([]);
  await family.sleepUntil('2027-03-31');
  expect(await about('Not yet opened')()).toEqual([['2027-03-31', 'urgent', 'Practitioner/coordinator-1']]);
  // Then the reminder to DPS two days before the deadline, the coordinator the day after it, DPS's leader five days later.
  await family.sleepUntil('2027-04-16');
  expect((await about('Henvisning til psykisk helsevern')()).filter((n) => n[0] !== '2027-03-31').sort()).toEqual([
    ['2027-04-07', 'routine', 'Organization/dps-fredrikstad'],
    ['2027-04-10', 'urgent', 'Practitioner/coordinator-1'],
    ['2027-04-15', 'urgent', 'Organization/dps-fredrikstad'],
  ]);
  // DPS rejects it: the coordinator and the referrer (the helsestasjon) are told that day.
  await handoff.signal(taskStatusSignal, { status: 'rejected', date: '2027-04-16' });
  expect(await handoff.result()).toEqual({ key, status: 'rejected' });
  await family.sleepUntil('2027-04-17');
  expect((await about('Rejected')()).sort()).toEqual([
    ['2027-04-16', 'urgent', 'Organization/sarpsborg-helsestasjon'],
    ['2027-04-16', 'urgent', 'Practitioner/coordinator-1'],
  ]);
  expect((await family.handle.query(pathwayStateQuery)).handoffs).toEqual([expect.objectContaining({ key, status: 'rejected' })]);
  await record('unopened-referral', [key]);
});

it('asks for an assessment the same day when EPDS item 10 is positive: the coordinator told at once, escalation in hours (basis 1.1.0)', async () => {
  family = await startFamily({ definition: 'https://forlop.no/fhir/PlanDefinition/basis|1.1.0', enrolment: '2027-03-24', dueDate: '2027-08-20' });
  // Skjærtorsdag 25 March 2027, a public holiday: an urgent clock does not wait for a working day.
  await family.sleepUntil('2027-03-25');
  const sentAt = await family.env.currentTimeMs();
  await family.handle.executeUpdate(recordEventUpdate, { args: [{ type: 'screening-recorded', instrument: 'epds', score: 9, items: { '10': 2 }, date: '2027-03-25' }] });
  const handoff = family.env.client.workflow.getHandle(handoffWorkflowId(family.familyId, 'acute-assessment-1'));
  const progress = await handoff.query(handoffQuery);
  // Six hours from when it was sent (the child workflow's start, within the minute of the result).
  expect(Date.parse(progress.deadlineAt!) - Date.parse(progress.sentAt!)).toBe(6 * 3_600_000);
  expect(Date.parse(progress.sentAt!) - sentAt).toBeLessThan(60_000);
  const told = async () => (await family!.notices()).map((n) => [n.sent, n.recipient?.[0]?.reference, n.payload?.[0]?.contentString?.slice(0, 30)]).sort();
  expect(await told()).toEqual([['2027-03-25', 'Practitioner/coordinator-1', 'EPDS item 10 (self-harm) answe']]);
  // No decision: the reminder to the receiver at four hours, the coordinator at six, the service's leader at eight.
  await family.env.sleep(Date.parse(progress.deadlineAt!) - (await family.env.currentTimeMs()) - 3_600_000);
  expect((await told()).length).toBe(2);
  await family.env.sleep(3 * 3_600_000 + 60_000);
  expect(await told()).toEqual([
    ['2027-03-25', 'Organization/sarpsborg-legevakt', 'Escalated to the leader of Sam'],
    ['2027-03-25', 'Organization/sarpsborg-legevakt', 'Reminder: "Vurdering samme dag'],
    ['2027-03-25', 'Practitioner/coordinator-1', 'EPDS item 10 (self-harm) answe'],
    ['2027-03-25', 'Practitioner/coordinator-1', 'Escalated to the coordinator: '],
  ]);
  // The 10-working-day referral to DPS was not started for item 10 alone.
  expect((await family.handle.query(pathwayStateQuery)).handoffs.map((h) => h.handoff)).toEqual(['acute-assessment']);
  await record('urgent-assessment', ['acute-assessment-1']);
}, 300_000);
