/**
 * The legal clocks of basis 1.1.0 that are not the ordinary referral
 * (issue #23): an urgent same-day assessment when EPDS item 10 is positive,
 * counted in hours; a report of concern to child welfare (helsepersonelloven
 * §33) with barnevernsloven's week, three weeks and three months, never held
 * by the family's answer.
 */
import { DefinitionRegistry } from '../pathways/registry';
import { advanceHourly, advanceMilestones, applyTaskStatus, advanceHandoff, milestonesDue, nextHandoffWakeUp, nextHourlyWakeUp, startHandoff } from './handoff-state';
import { applyEvent, startPathway } from './pathway-state';

const plan = DefinitionRegistry.builtIn().plan('https://forlop.no/fhir/PlanDefinition/basis|1.1.0');
const hour = 3_600_000;

describe('EPDS item 10: an assessment the same day', () => {
  it('starts the urgent handoff, not the 10-working-day referral, and tells the coordinator at once', () => {
    const { state } = startPathway(plan, 'f1', { enrolment: '2027-03-01', dueDate: '2027-08-20' }, '2027-03-01');
    const t = applyEvent(plan, state, { type: 'screening-recorded', instrument: 'epds', score: 8, items: { '10': 1 }, date: '2027-03-23' }, '2027-03-23');
    expect(t.effects.filter((e) => e.type === 'start-handoff')).toEqual([{ type: 'start-handoff', key: 'acute-assessment-1', on: '2027-03-23', handoff: 'acute-assessment', rule: 'epds-self-harm' }]);
    expect(t.effects).toContainEqual(expect.objectContaining({ type: 'notify-coordinator', on: '2027-03-23', rule: 'epds-self-harm' }));
  });

  it('counts six hours from the moment it is sent, reminds at four, escalates at six and eight, on Skjærtorsdag as on any day', () => {
    const def = plan.handoffs['acute-assessment'];
    expect(def).toMatchObject({ priority: 'urgent', deadline: { hours: 6, from: 'sent' } });
    // Sent 10:30 Oslo time (summer time, UTC+2) on Thursday 25 March 2027, a public holiday: hours do not skip holidays.
    const sentAt = '2027-03-25T09:30:00.000Z';
    let { state } = startHandoff(def, 'acute-assessment-1', '2027-03-25', sentAt);
    expect(state).toMatchObject({ deadlineAt: '2027-03-25T15:30:00.000Z', deadline: '2027-03-25' });
    const at = (iso: string) => Date.parse(iso);
    expect(nextHourlyWakeUp(def, state)).toBe(at(sentAt) + 4 * hour);
    expect(advanceHourly(def, state, at(sentAt) + 4 * hour - 1).effects).toEqual([]);
    let t = advanceHourly(def, state, at(sentAt) + 4 * hour);
    expect(t.effects).toEqual([{ type: 'reminder', key: 'acute-assessment-1-reminder-1', on: '2027-03-25', deadline: '2027-03-25T15:30:00.000Z' }]);
    t = advanceHourly(def, t.state, at(sentAt) + 8 * hour);
    expect(t.effects).toEqual([
      { type: 'escalate', key: 'acute-assessment-1-escalation-1', on: '2027-03-25', to: 'coordinator', deadline: '2027-03-25T15:30:00.000Z' },
      { type: 'escalate', key: 'acute-assessment-1-escalation-2', on: '2027-03-25', to: 'service-leader', deadline: '2027-03-25T15:30:00.000Z' },
    ]);
    expect(nextHourlyWakeUp(def, t.state)).toBeUndefined();
    // Assessed (accepted) in time: nothing more.
    ({ state } = applyTaskStatus(def, startHandoff(def, 'a-2', '2027-03-25', sentAt).state, 'accepted', '2027-03-25'));
    expect(nextHourlyWakeUp(def, state)).toBeUndefined();
  });
});

describe('a report of concern to child welfare', () => {
  const def = plan.handoffs['child-welfare-report'];

  it('wants the review decision within a week, an acknowledgement within three weeks, the investigation within three months (Easter 2028)', () => {
    // Sent Monday 10 April 2028, in Easter week: the week and the months are calendar time.
    const { state } = startHandoff(def, 'child-welfare-report-in-1', '2028-04-10');
    expect(state.deadline).toBe('2028-04-17');
    expect(nextHandoffWakeUp(def, state)).toBe('2028-04-18');
    const late = advanceHandoff(def, state, '2028-05-01');
    expect(late.effects.map((e) => [e.type, e.on])).toEqual([
      ['escalate-unopened', '2028-05-01'],
      ['escalate', '2028-04-18'],
    ]);
    // Investigated (accepted) on 20 April: the investigation is due by 10 July (three months from receipt), escalated the day after.
    const accepted = applyTaskStatus(def, state, 'accepted', '2028-04-20').state;
    expect(milestonesDue(def, accepted)).toEqual([{ milestone: 'investigation-concluded', due: '2028-07-10' }]);
    expect(advanceMilestones(def, accepted, '2028-07-11').effects).toEqual([{ type: 'milestone-overdue', key: 'child-welfare-report-in-1-investigation-concluded-2028-07-10', on: '2028-07-11', milestone: 'investigation-concluded', due: '2028-07-10' }]);
  });

  it('is not held when the family refuses or withdraws: §33 is a duty, not a consent', () => {
    let { state } = startPathway(plan, 'f1', { enrolment: '2027-03-01', birth: '2027-02-20' }, '2027-03-01');
    ({ state } = applyEvent(plan, state, { type: 'consent-changed', basis: 'section-33', status: 'withdrawn', date: '2027-03-02' }, '2027-03-02'));
    const t = applyEvent(plan, state, { type: 'referral-received', handoff: 'child-welfare-report', key: 'child-welfare-report-in-abc', serviceRequest: 'ServiceRequest/bm1', performer: 'Organization/barnevern', date: '2027-03-03' }, '2027-03-03');
    expect(t.effects).toContainEqual(expect.objectContaining({ type: 'start-handoff', key: 'child-welfare-report-in-abc' }));
    expect(t.state.handoffs).toEqual([expect.objectContaining({ status: 'requested' })]);
    const after = applyEvent(plan, t.state, { type: 'consent-changed', basis: 'section-33', status: 'rejected', date: '2027-03-04' }, '2027-03-04');
    expect(after.effects.filter((e) => e.type === 'hold-handoff')).toEqual([]);
    expect(after.state.handoffs[0].status).toBe('requested');
    expect(after.state.timeline.at(-1)?.what).toMatch(/a duty, not a consent \(helsepersonelloven §33\)/);
  });
});

describe('substance use in pregnancy', () => {
  it('tells the coordinator to consider TSB (voluntary) on a risky TWEAK, without referring by itself; a referral a clinician writes runs the pakkeforløp', () => {
    let { state } = startPathway(plan, 'f1', { enrolment: '2027-03-01', dueDate: '2027-08-20' }, '2027-03-01');
    const t = applyEvent(plan, state, { type: 'screening-recorded', instrument: 'tweak', score: 3, date: '2027-03-05' }, '2027-03-05');
    expect(t.effects.filter((e) => e.type === 'start-handoff')).toEqual([]);
    expect(t.effects).toContainEqual(expect.objectContaining({ type: 'notify-coordinator', rule: 'tweak-risk', text: expect.stringMatching(/referral to TSB .*voluntary.*§32.*§10-3/) }));
    state = t.state;
    const referred = applyEvent(plan, state, { type: 'referral-received', handoff: 'tsb-referral', key: 'tsb-referral-in-abc', serviceRequest: 'ServiceRequest/tsb1', performer: 'Organization/tsb', date: '2027-03-09' }, '2027-03-09');
    expect(referred.effects).toContainEqual(expect.objectContaining({ type: 'start-handoff', handoff: 'tsb-referral' }));
    const def = plan.handoffs['tsb-referral'];
    let h = startHandoff(def, 'tsb-referral-in-abc', '2027-03-09').state;
    expect(h.deadline).toBe('2027-03-23');
    h = applyTaskStatus(def, h, 'accepted', '2027-03-12').state;
    h = { ...h, reached: { ...h.reached, 'first-attendance': ['2027-03-15'] } };
    expect(milestonesDue(def, h)).toEqual([{ milestone: 'clinical-decision', due: '2027-03-22' }]);
    expect(def.returnHandoff).toBe('tsb-discharge');
  });
});

