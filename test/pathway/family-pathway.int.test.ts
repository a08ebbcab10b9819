/**
 * Whole families through their pathway on the embedded Temporal server with
 * time skipping, the real worker, and the FHIR store: the virtual dates on
 * which things happen, and the FHIR resources the pathway leaves behind.
 */
import { addDays } from '../../pathways/calendar';
import { encounterRecordedSignal, birthRegisteredSignal, pathwayQuery, pregnancyEndedSignal, recordEventUpdate, screeningRecordedSignal, nextDueQuery, overdueQuery, pathwayStateQuery } from '../../workflows/messages';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../temporal/worker';
import { activityOf, startFamily, type PathwayHarness } from './harness';
import { savePathwayHistories } from './history-fixtures';

jest.setTimeout(120_000);

let family: PathwayHarness | undefined;
const produced: Awaited<ReturnType<PathwayHarness['histories']>> = [];
const SCENARIOS: Record<string, string> = {
  'walks a family through the whole programme: every contact on time, no alarms, closed when the child turns three': 'whole-course',
  'moves the timers when the due date is corrected and when the baby comes early': 'premature-birth',
  'closes with care when the pregnancy ends: no further reminders': 'pregnancy-ended',
  'marks a missed contact overdue after its window and escalates it to the coordinator': 'missed-contact',
  'acts on an EPDS of 12 six weeks after birth as the definition says': 'epds-12',
  'runs the Sarpsborg interventions from pregnancy, and they recur': 'sarpsborg',
  'gives a result or contact only the step whose window (or tolerance) holds it, or the one it is linked to': 'step-matching',
};

afterEach(async () => {
  if (family) {
    const runs = await family.histories();
    produced.push(...runs);
    const scenario = SCENARIOS[expect.getState().currentTestName?.replace(/^familyPathway /, '') ?? ''];
    if (scenario) savePathwayHistories(scenario, runs);
  }
  await family?.close();
  family = undefined;
});

// Every history these tests produced replays against the workflow code without nondeterminism.
afterAll(async () => {
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle(), replayName: 'produced' }, produced)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
});

/** Hold every planned contact and screening on its target day until `until`, registering the birth on `birth`. */
async function attendEverything(f: PathwayHarness, birth: string, until: string) {
  let born = false;
  for (let guard = 0; guard < 200; guard++) {
    const next = (await f.handle.query(nextDueQuery, 50)).filter((s) => s.kind !== 'intervention' && s.target);
    const target = next[0]?.target;
    if (!born && (!target || target >= birth)) {
      await f.sleepUntil(birth);
      await f.handle.signal(birthRegisteredSignal, { date: birth });
      born = true;
      continue;
    }
    if (!target || target > until) return;
    await f.sleepUntil(target);
    const step = next[0];
    if (step.kind === 'screening') {
      const instrument = step.step.startsWith('epds') ? 'epds' : step.step.startsWith('tweak') ? 'tweak' : 'audit-c';
      await f.handle.signal(screeningRecordedSignal, { instrument, score: instrument === 'epds' ? 4 : 0, date: target, step: step.key });
    } else {
      await f.handle.signal(encounterRecordedSignal, { status: 'finished', step: step.key, date: target });
    }
  }
  throw new Error('attendEverything did not finish');
}

describe('familyPathway', () => {
  it('walks a family through the whole programme: every contact on time, no alarms, closed when the child turns three', async () => {
    family = await startFamily({ definition: 'Basisprogram', enrolment: '2026-11-03', dueDate: '2027-06-01' });
    const firstRunId = family.handle.firstExecutionRunId;
    await attendEverything(family, '2027-06-01', '2029-06-01');
    const result = await family.handle.result();
    expect(result).toEqual({ familyId: family.familyId, exit: 'age-3', closedOn: '2030-06-01', carePlanStatus: 'completed' });
    expect(await family.today()).toBe('2030-06-01');

    const carePlan = await family.carePlan();
    expect(carePlan).toMatchObject({ status: 'completed', intent: 'plan', instantiatesCanonical: ['https://forlop.no/fhir/PlanDefinition/basis|1.1.0'], period: { start: '2026-11-03', end: '2030-06-01' } });
    for (const key of ['hs-home-visit', 'hs-4w', 'hs-6w', 'hs-3m', 'hs-4m', 'hs-5m', 'hs-6m', 'hs-8m', 'hs-10m', 'hs-12m', 'hs-15m', 'hs-17m', 'hs-2y']) {
      expect(activityOf(carePlan, key)?.detail?.status).toBe('completed');
    }
    expect(activityOf(carePlan, 'hs-6w')?.detail?.scheduledPeriod).toEqual({ start: '2027-07-06', end: '2027-07-27' });
    expect(await family.notices()).toEqual([]);
    // Planned encounters were written for the home visits and consultations.
    const homeVisit = (await family.encounters()).find((e) => e.identifier?.[0]?.value === `${family!.familyId}/hs-home-visit`);
    expect(homeVisit).toMatchObject({ status: 'planned', class: { code: 'HH' }, period: { start: '2027-06-08', end: '2027-06-11' }, subject: { reference: 'Patient/child-1' }, serviceProvider: { reference: 'Organization/sarpsborg-helsestasjon' } });
    // It continued as new at the phase boundaries.
    const description = await family.handle.describe();
    expect(firstRunId).toMatch(/^[0-9a-f-]{36}$/);
    expect(description.runId).not.toBe(firstRunId);
  });

  it('moves the timers when the due date is corrected and when the baby comes early', async () => {
    family = await startFamily({ definition: 'Basisprogram', enrolment: '2026-11-03', dueDate: '2027-06-01' });
    const corrected = await family.handle.executeUpdate(recordEventUpdate, { args: [{ type: 'due-date-changed', dueDate: '2027-06-15', date: '2026-11-03' }] });
    expect(corrected.anchors.dueDate).toBe('2027-06-15');
    const preg24 = (await family.encounters()).find((e) => e.identifier?.[0]?.value === `${family!.familyId}/preg-24`);
    expect(preg24?.period).toEqual({ start: '2027-02-16', end: '2027-03-02' });

    // Born in week 34+3 (2027-05-01): the pregnancy consultations still ahead no longer apply.
    await family.sleepUntil('2027-05-01');
    const born = await family.handle.executeUpdate(recordEventUpdate, { args: [{ type: 'birth-registered', date: '2027-05-01' }] });
    expect(born.phase).toEqual({ id: 'postnatal', title: 'Barseltid' });
    const state = await family.handle.query(pathwayStateQuery);
    expect(state.steps.find((s) => s.key === 'preg-36')).toMatchObject({ status: 'not-applicable' });
    expect(state.steps.find((s) => s.key === 'hs-6w')).toMatchObject({ status: 'planned', target: '2027-06-12' });
    const cancelled = (await family.encounters()).find((e) => e.identifier?.[0]?.value === `${family!.familyId}/preg-36`);
    expect(cancelled?.status).toBe('cancelled');

    // The home visit was due 8-11 May; by 12 May it is overdue and the coordinator hears of it that day.
    await family.sleepUntil('2027-05-12');
    expect((await family.handle.query(overdueQuery)).map((s) => s.key)).toEqual(expect.arrayContaining(['midwife-home-visit', 'hs-home-visit']));
    const notices = await family.notices();
    expect(notices.filter((n) => n.sent === '2027-05-12')).toHaveLength(1);
    expect(notices.find((n) => n.sent === '2027-05-12')).toMatchObject({ recipient: [{ reference: 'Practitioner/coordinator-1' }], about: [{ reference: expect.stringMatching(/^CarePlan\//) }] });
  });

  it('closes with care when the pregnancy ends: no further reminders', async () => {
    family = await startFamily({ definition: 'Basisprogram', enrolment: '2026-11-03', dueDate: '2027-06-01' });
    await family.sleepUntil('2026-12-10');
    const before = (await family.notices()).length;
    await family.handle.signal(pregnancyEndedSignal, { date: '2026-12-10' });
    expect(await family.handle.result()).toMatchObject({ exit: 'pregnancy-ended', closedOn: '2026-12-10', carePlanStatus: 'revoked' });
    const carePlan = await family.carePlan();
    expect(carePlan.status).toBe('revoked');
    expect(activityOf(carePlan, 'preg-24')?.detail?.status).toBe('cancelled');
    const planned = (await family.encounters()).filter((e) => e.status === 'planned');
    expect(planned).toEqual([]);
    expect((await family.notices()).length).toBe(before);
  });

  it('marks a missed contact overdue after its window and escalates it to the coordinator', async () => {
    family = await startFamily({ definition: 'Basisprogram', enrolment: '2026-11-03', dueDate: '2027-06-01' });
    // Consultation 1 (week 6-12) closes on 2026-11-17.
    await family.sleepUntil('2026-11-17');
    expect(await family.handle.query(overdueQuery)).toEqual([]);
    await family.sleepUntil('2026-11-18');
    const overdue = await family.handle.query(overdueQuery);
    expect(overdue.map((s) => s.key)).toContain('preg-1');
    const notice = (await family.notices()).find((n) => n.sent === '2026-11-18');
    expect(notice?.payload?.[0]?.contentString).toMatch(/not held within its window/);
    expect(activityOf(await family.carePlan(), 'preg-1')?.detail).toMatchObject({ status: 'scheduled', statusReason: { coding: [{ code: 'overdue' }] } });
  });

  it('acts on an EPDS of 12 six weeks after birth as the definition says', async () => {
    family = await startFamily({ definition: 'Basisprogram', enrolment: '2027-05-20', birth: '2027-05-15' });
    const sixWeeks = addDays('2027-05-15', 42);
    await family.sleepUntil(sixWeeks);
    const view = await family.handle.executeUpdate(recordEventUpdate, { args: [{ type: 'screening-recorded', instrument: 'epds', score: 12, items: { '10': 0 }, date: sixWeeks, eventId: 'QuestionnaireResponse/qr1/_history/1' }] });
    expect(view.nextDue.map((s) => s.key)).toEqual(expect.arrayContaining(['epds-clinical-interview']));
    const state = await family.handle.query(pathwayStateQuery);
    expect(state.steps.find((s) => s.key === 'epds-postnatal')).toMatchObject({ status: 'done', result: { score: 12, band: 'possible' } });
    expect(state.steps.find((s) => s.key === 'epds-clinical-interview')).toMatchObject({ status: 'planned', target: '2027-07-03', latest: '2027-07-10' });
    expect(state.steps.find((s) => s.key === 'supportive-conversations')).toMatchObject({ status: 'planned', start: '2027-07-10' });
    const carePlan = await family.carePlan();
    expect(activityOf(carePlan, 'epds-clinical-interview')?.detail).toMatchObject({ status: 'scheduled', scheduledPeriod: { start: '2027-06-26', end: '2027-07-10' } });
    expect(activityOf(carePlan, 'supportive-conversations')?.detail?.scheduledTiming?.repeat).toMatchObject({ period: 1, periodUnit: 'wk', count: 4 });
    // (The family joined after the birth and attended nothing: the missed home visits were reported too.)
    expect((await family.notices()).filter((n) => /EPDS/.test(n.payload?.[0]?.contentString ?? '')).map((n) => n.sent)).toEqual([sixWeeks]);
    // The same result delivered again changes nothing.
    await family.handle.signal(screeningRecordedSignal, { instrument: 'epds', score: 12, date: sixWeeks, eventId: 'QuestionnaireResponse/qr1/_history/1' });
    expect((await family.handle.query(pathwayStateQuery)).steps.filter((s) => s.step === 'epds-clinical-interview')).toHaveLength(1);
  });

  it('continues as new when the history grows large, keeping its state', async () => {
    family = await startFamily({ definition: 'Basisprogram', enrolment: '2026-11-03', dueDate: '2027-06-01', historyLimit: 30 });
    for (const date of ['2026-11-05', '2026-11-06', '2026-11-09', '2026-11-10']) {
      await family.sleepUntil(date);
      await family.handle.executeUpdate(recordEventUpdate, { args: [{ type: 'encounter-recorded', status: 'no-show', step: 'preg-1', date }] });
    }
    await family.sleepUntil('2026-12-01');
    const runs = await family.histories();
    expect(runs.length).toBeGreaterThan(1);
    // Still in pregnancy: it was the history's size, not a phase, that started the new run.
    const state = await family.handle.query(pathwayStateQuery);
    expect(state.phase).toBe('pregnancy');
    expect(state.steps.find((s) => s.key === 'preg-1')).toMatchObject({ noShows: 4, status: 'overdue' });
    expect(runs.every((r) => (r.history.events?.length ?? 0) < 80)).toBe(true);
    // Each no-show was passed on to the coordinator, once, across the runs.
    expect((await family.notices()).filter((n) => /did not come/.test(n.payload?.[0]?.contentString ?? '')).map((n) => n.sent).sort()).toEqual(['2026-11-05', '2026-11-06', '2026-11-09', '2026-11-10']);
  });

  it('runs the Sarpsborg interventions from pregnancy, and they recur', async () => {
    family = await startFamily({ definition: 'Sarpsborgmodellen', enrolment: '2026-11-03', dueDate: '2027-06-01' });
    await family.sleepUntil('2026-11-17');
    let state = await family.handle.query(pathwayStateQuery);
    expect(state.steps.find((s) => s.key === 'mother-child-group')).toMatchObject({ status: 'active', start: '2026-11-17' });
    expect(state.steps.find((s) => s.key === 'individual-treatment')).toMatchObject({ status: 'active', start: '2026-11-10' });
    for (const date of ['2026-11-17', '2026-11-24']) {
      await family.sleepUntil(date);
      await family.handle.signal(encounterRecordedSignal, { status: 'finished', step: 'mother-child-group', date });
    }
    const view = await family.handle.query(pathwayQuery);
    expect(view.nextDue.find((s) => s.key === 'mother-child-group')).toMatchObject({ sessions: 2, nextSession: '2026-12-01' });
    const carePlan = await family.carePlan();
    expect(activityOf(carePlan, 'mother-child-group')?.detail).toMatchObject({ status: 'in-progress', scheduledTiming: { repeat: { period: 1, periodUnit: 'wk', boundsPeriod: { start: '2026-11-17' } } } });
    expect(activityOf(carePlan, 'circle-of-security')?.detail?.status).toBe('not-started');

    // After the birth the course of Trygghetssirkelen starts at three months and ends after eight sessions.
    await family.sleepUntil('2027-06-01');
    await family.handle.signal(birthRegisteredSignal, { date: '2027-06-01' });
    await family.sleepUntil('2027-09-01');
    for (let i = 0; i < 8; i++) await family.handle.signal(encounterRecordedSignal, { status: 'finished', step: 'circle-of-security', date: '2027-09-01' });
    state = await family.handle.query(pathwayStateQuery);
    expect(state.steps.find((s) => s.key === 'circle-of-security')).toMatchObject({ status: 'completed', sessions: 8 });
    expect(state.steps.find((s) => s.key === 'mother-child-group')).toMatchObject({ status: 'active', end: '2028-06-01' });
  });

  it('gives a result or contact only the step whose window (or tolerance) holds it, or the one it is linked to', async () => {
    family = await startFamily({ definition: 'Basisprogram', enrolment: '2026-11-03', dueDate: '2027-06-01' });
    const step = async (key: string) => (await family!.handle.query(pathwayStateQuery)).steps.find((s) => s.key === key);
    // Week 20 (2027-01-12): an extra consultation and two EPDS, none in a planned step's window or tolerance.
    await family.sleepUntil('2027-01-12');
    await family.handle.executeUpdate(recordEventUpdate, { args: [{ type: 'encounter-recorded', status: 'finished', code: { system: 'https://forlop.no/fhir/CodeSystem/pathway-activity', code: 'pregnancy-consultation' }, date: '2027-01-12', eventId: 'finished:Encounter/extra' }] });
    for (const score of [4, 5]) await family.handle.executeUpdate(recordEventUpdate, { args: [{ type: 'screening-recorded', instrument: 'epds', score, items: { '10': 0 }, date: '2027-01-12', eventId: `QuestionnaireResponse/q${score}/_history/1` }] });
    expect(await step('preg-24')).toMatchObject({ status: 'planned' });
    expect(await step('epds-pregnancy')).toMatchObject({ status: 'planned' });
    expect(await step('epds-postnatal')).toMatchObject({ status: 'waiting' });
    expect((await family.handle.query(pathwayStateQuery)).timeline.filter((e) => e.unplanned).map((e) => e.what)).toEqual([
      'Unplanned contact finished: Svangerskapskonsultasjon',
      'Edinburgh Postnatal Depression Scale: 4 (Under cut-off), unplanned',
      'Edinburgh Postnatal Depression Scale: 5 (Under cut-off), unplanned',
    ]);
    // An AUDIT-C linked to its (overdue) enrolment step fulfils exactly that step; a link to a contact is refused.
    await family.handle.executeUpdate(recordEventUpdate, { args: [{ type: 'screening-recorded', instrument: 'audit-c', score: 0, step: 'audit-c-enrolment', date: '2027-01-12' }] });
    expect(await step('audit-c-enrolment')).toMatchObject({ status: 'done', doneOn: '2027-01-12' });
    expect(await step('tweak-enrolment')).toMatchObject({ status: 'overdue' });
    await expect(family.handle.executeUpdate(recordEventUpdate, { args: [{ type: 'screening-recorded', instrument: 'epds', score: 3, step: 'preg-24', date: '2027-01-12' }] })).rejects.toMatchObject({ cause: { message: expect.stringMatching(/which this cannot fulfil/) } });
    // Week 25 (2027-02-16): a week before the week 26-30 window, inside its two weeks' tolerance.
    await family.sleepUntil('2027-02-16');
    await family.handle.executeUpdate(recordEventUpdate, { args: [{ type: 'screening-recorded', instrument: 'epds', score: 6, items: { '10': 0 }, date: '2027-02-16' }] });
    expect(await step('epds-pregnancy')).toMatchObject({ status: 'done', doneOn: '2027-02-16' });
    // Born on the due date; the postnatal EPDS (6-8 weeks: 2027-07-13 to 2027-07-27) is not done and becomes overdue on 2027-07-28.
    await family.sleepUntil('2027-06-01');
    await family.handle.executeUpdate(recordEventUpdate, { args: [{ type: 'birth-registered', date: '2027-06-01' }] });
    await family.sleepUntil('2027-07-27');
    expect(await step('epds-postnatal')).toMatchObject({ status: 'planned', latest: '2027-07-27' });
    await family.sleepUntil('2027-07-28');
    expect(await step('epds-postnatal')).toMatchObject({ status: 'overdue' });
    // The coordinator is told (the rule fired for this step; the 6-week consultation and the mother's check closed the same day).
    expect((await family.handle.query(pathwayStateQuery)).timeline.filter((e) => e.on === '2027-07-28' && e.step === 'epds-postnatal').map((e) => e.rule ?? e.what)).toEqual(['EPDS 6-8 uker etter fødsel is overdue (window 2027-07-13 to 2027-07-27)', 'contact-overdue']);
    expect((await family.notices()).filter((n) => n.sent === '2027-07-28')).toHaveLength(3);
  });
});
