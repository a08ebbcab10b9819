/**
 * The referral deadline of basis 1.1.0 (issue #21, item 2): pasient- og
 * brukerrettighetsloven §2-2's ten working days count from when the referral
 * arrives at the receiving service, which is when Forløp sends it, not when
 * the receiver opens it. An unopened referral is reminded and escalated like
 * any other, with an early "not yet opened" escalation; a rejection is
 * reported at once. Real calendars: Easter 2027 and 2028.
 */
import { DefinitionRegistry } from '../pathways/registry';
import { advanceHandoff, applyTaskStatus, nextHandoffWakeUp, startHandoff, type HandoffEffect, type HandoffProgress } from './handoff-state';

const plan = DefinitionRegistry.builtIn().plan('https://forlop.no/fhir/PlanDefinition/basis|1.1.0');
const referral = plan.handoffs['mental-health-referral'];

/** Every effect from `state` up to `until`, walking the wake-up days as the workflow does. */
function run(state: HandoffProgress, until: string): { state: HandoffProgress; effects: HandoffEffect[] } {
  const effects: HandoffEffect[] = [];
  for (let day = nextHandoffWakeUp(referral, state); day && day <= until; day = nextHandoffWakeUp(referral, state)) {
    const t = advanceHandoff(referral, state, day);
    if (t.state.today === state.today && t.effects.length === 0) break;
    state = t.state;
    effects.push(...t.effects);
  }
  return { state, effects };
}

describe('a referral to DPS nobody opens (basis 1.1.0)', () => {
  it('has its deadline from the day it is sent, over Easter 2027, and is escalated unopened, reminded and escalated', () => {
    // Sent Tuesday 23 March 2027; skjærtorsdag 25, langfredag 26 and 2. påskedag 29 March are not working days.
    const { state } = startHandoff(referral, 'mental-health-referral-1', '2027-03-23');
    expect(state).toMatchObject({ status: 'requested', deadline: '2027-04-09' });
    const { effects } = run(state, '2027-04-30');
    expect(effects).toEqual([
      { type: 'escalate-unopened', key: 'mental-health-referral-1-unopened', on: '2027-03-31', to: 'coordinator', sentOn: '2027-03-23', deadline: '2027-04-09' },
      { type: 'reminder', key: 'mental-health-referral-1-reminder-1', on: '2027-04-07', deadline: '2027-04-09' },
      { type: 'escalate', key: 'mental-health-referral-1-escalation-1', on: '2027-04-10', to: 'coordinator', deadline: '2027-04-09' },
      { type: 'escalate', key: 'mental-health-referral-1-escalation-2', on: '2027-04-15', to: 'service-leader', deadline: '2027-04-09' },
    ]);
  });

  it('over Easter 2028 (13, 14 and 17 April), opened late: the deadline stays where it was, no unopened escalation once opened', () => {
    let { state } = startHandoff(referral, 'r-1', '2028-04-11');
    expect(state.deadline).toBe('2028-04-28');
    expect(nextHandoffWakeUp(referral, state)).toBe('2028-04-19');
    ({ state } = applyTaskStatus(referral, state, 'received', '2028-04-18'));
    expect(state.deadline).toBe('2028-04-28'); // receipt by the receiver's staff does not move it
    const { effects } = run(state, '2028-05-31');
    expect(effects.map((e) => [e.type, e.on])).toEqual([
      ['reminder', '2028-04-26'],
      ['escalate', '2028-04-29'],
      ['escalate', '2028-05-04'],
    ]);
  });

  it('reports a rejection at once, and stops the clock', () => {
    const { state } = startHandoff(referral, 'r-1', '2027-03-23');
    const rejected = applyTaskStatus(referral, state, 'rejected', '2027-03-24');
    expect(rejected.effects).toEqual([
      { type: 'status', status: 'rejected', on: '2027-03-24' },
      { type: 'rejected', key: 'r-1-rejected', on: '2027-03-24' },
    ]);
    expect(nextHandoffWakeUp(referral, rejected.state)).toBeUndefined();
    expect(advanceHandoff(referral, rejected.state, '2027-05-01').effects).toEqual([]);
  });
});
