import { DefinitionRegistry } from '../pathways/registry';
import { advanceHandoff, advanceMilestones, applyBusinessStatus, applyTaskStatus, canMove, HandoffInputError, holdHandoff, milestonesDue, nextHandoffWakeUp, nextMilestoneWakeUp, startHandoff } from './handoff-state';

const plan = DefinitionRegistry.builtIn().plan('https://forlop.no/fhir/PlanDefinition/basis|1.0.0');
const referral = plan.handoffs['mental-health-referral']; // 10 working days from receipt, reminder 2d before, coordinator at once, leader 5d later

describe('handoff state', () => {
  it('counts 10 working days from receipt over Easter, reminds before and escalates after, in order', () => {
    const started = startHandoff(referral, 'mental-health-referral-1', '2026-03-27');
    expect(started.effects).toEqual([{ type: 'create-request', on: '2026-03-27' }]);
    let state = started.state;
    expect(state.deadline).toBeUndefined(); // counted from receipt
    ({ state } = applyTaskStatus(referral, state, 'received', '2026-03-30'));
    // Skjærtorsdag, langfredag and 2. påskedag are not working days.
    expect(state.deadline).toBe('2026-04-16');
    expect(nextHandoffWakeUp(referral, state)).toBe('2026-04-14');
    let step = advanceHandoff(referral, state, '2026-04-14');
    expect(step.effects).toEqual([{ type: 'reminder', key: 'mental-health-referral-1-reminder-1', on: '2026-04-14', deadline: '2026-04-16' }]);
    step = advanceHandoff(referral, step.state, '2026-04-16');
    expect(step.effects).toEqual([]); // the deadline day is still on time
    step = advanceHandoff(referral, step.state, '2026-04-17');
    expect(step.effects).toEqual([{ type: 'escalate', key: 'mental-health-referral-1-escalation-1', on: '2026-04-17', to: 'coordinator', deadline: '2026-04-16' }]);
    expect(nextHandoffWakeUp(referral, step.state)).toBe('2026-04-22');
    step = advanceHandoff(referral, step.state, '2026-04-30');
    expect(step.effects).toEqual([{ type: 'escalate', key: 'mental-health-referral-1-escalation-2', on: '2026-04-22', to: 'service-leader', deadline: '2026-04-16' }]);
    expect(nextHandoffWakeUp(referral, step.state)).toBeUndefined();
  });

  it('stops reminding once the receiver decides', () => {
    let { state } = startHandoff(referral, 'r-1', '2026-03-27');
    ({ state } = applyTaskStatus(referral, state, 'received', '2026-03-30'));
    const accepted = applyTaskStatus(referral, state, 'accepted', '2026-04-01');
    expect(accepted.effects).toEqual([{ type: 'status', status: 'accepted', on: '2026-04-01' }]);
    expect(advanceHandoff(referral, accepted.state, '2026-05-01').effects).toEqual([]);
    expect(nextHandoffWakeUp(referral, accepted.state)).toBeUndefined();
  });

  it('holds an undecided handoff when its legal basis is withdrawn: Task on hold, no reminders or escalations until the receiver moves it', () => {
    let { state } = applyTaskStatus(referral, startHandoff(referral, 'r-1', '2026-03-27').state, 'received', '2026-03-30');
    const held = holdHandoff(state, 'consent withdrawn', '2026-04-01');
    expect(held.effects).toEqual([{ type: 'hold-request', on: '2026-04-01', reason: 'consent withdrawn' }]);
    expect(held.state).toMatchObject({ status: 'on-hold', held: 'consent withdrawn' });
    expect(nextHandoffWakeUp(referral, held.state)).toBeUndefined();
    expect(advanceHandoff(referral, held.state, '2026-05-01').effects).toEqual([]);
    expect(holdHandoff(held.state, 'again', '2026-04-02').effects).toEqual([]);
    // A decided handoff is the receiver's own: not held.
    state = applyTaskStatus(referral, state, 'accepted', '2026-03-31').state;
    expect(holdHandoff(state, 'consent withdrawn', '2026-04-01').effects).toEqual([]);
    // The receiver resumes the held one: the hold is over.
    expect(applyTaskStatus(referral, held.state, 'accepted', '2026-04-03').state.held).toBeUndefined();
  });

  it('refuses moves the Task state machine does not allow, saying what is allowed', () => {
    const { state } = startHandoff(referral, 'r-1', '2026-03-27');
    const completed = applyTaskStatus(referral, applyTaskStatus(referral, state, 'accepted', '2026-03-30').state, 'completed', '2026-04-02').state;
    expect(() => applyTaskStatus(referral, completed, 'in-progress', '2026-04-03')).toThrow(new HandoffInputError('A Task cannot go from completed to in-progress; allowed next: none (the Task is finished)'));
    expect(() => applyTaskStatus(referral, state, 'completed', '2026-03-28')).toThrow('A Task cannot go from requested to completed; allowed next: received, accepted, rejected, cancelled, on-hold, failed, ready');
    expect(canMove('on-hold', 'in-progress')).toBe(true);
  });
});

describe('pakkeforløp milestones', () => {
  const familieambulatorium = DefinitionRegistry.builtIn().plan('Familieambulatorium').handoffs['familieambulatorium-referral'];

  it('times clinical decision, first evaluation and then evaluations every 42 days, telling the coordinator of each that is late, once', async () => {
    let state = applyTaskStatus(familieambulatorium, startHandoff(familieambulatorium, 'fa-1', '2026-03-02').state, 'accepted', '2026-03-04').state;
    expect(milestonesDue(familieambulatorium, state)).toEqual([]); // nothing counts until the first attendance
    state = applyBusinessStatus(familieambulatorium, state, 'first-attendance', '2026-03-06');
    expect(milestonesDue(familieambulatorium, state)).toEqual([{ milestone: 'clinical-decision', due: '2026-03-13' }]);
    expect(nextMilestoneWakeUp(familieambulatorium, state)).toBe('2026-03-14');
    let step = advanceMilestones(familieambulatorium, state, '2026-03-14');
    expect(step.effects).toEqual([{ type: 'milestone-overdue', key: 'fa-1-clinical-decision-2026-03-13', on: '2026-03-14', milestone: 'clinical-decision', due: '2026-03-13' }]);
    expect(advanceMilestones(familieambulatorium, step.state, '2026-03-20').effects).toEqual([]);
    state = applyBusinessStatus(familieambulatorium, step.state, 'clinical-decision', '2026-03-16');
    expect(milestonesDue(familieambulatorium, state)).toEqual([{ milestone: 'first-evaluation', due: '2026-03-30' }]);
    state = applyBusinessStatus(familieambulatorium, state, 'first-evaluation', '2026-03-27');
    expect(milestonesDue(familieambulatorium, state)).toEqual([{ milestone: 'evaluation', due: '2026-05-08' }]);
    state = applyBusinessStatus(familieambulatorium, state, 'evaluation', '2026-05-04');
    expect(milestonesDue(familieambulatorium, state)).toEqual([{ milestone: 'evaluation', due: '2026-06-15' }]);
    step = advanceMilestones(familieambulatorium, state, '2026-06-16');
    expect(step.effects.map((e) => (e as { due: string }).due)).toEqual(['2026-06-15']);
    expect(() => applyBusinessStatus(familieambulatorium, state, 'discharge', '2026-06-16')).toThrow("'discharge' is not a step of familieambulatorium-referral; known: first-attendance, clinical-decision, first-evaluation, evaluation");
  });
});
