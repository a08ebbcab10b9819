import { DefinitionRegistry } from '../pathways/registry';
import type { Plan } from '../pathways/plan';
import { advance, applyEvent, nextWakeUp, PathwayInputError, startPathway, type PathwayState } from './pathway-state';

const plan: Plan = DefinitionRegistry.builtIn().plan('https://forlop.no/fhir/PlanDefinition/basis|1.0.0');
// Due 2027-06-01: gestational week 0 starts 2026-08-25; enrolled in week 10.
const anchors = { enrolment: '2026-11-03', dueDate: '2027-06-01' };
const step = (state: PathwayState, key: string) => state.steps.find((s) => s.key === key)!;

describe('startPathway', () => {
  it('plans the pregnancy from the due date and waits for the birth for the rest', () => {
    const { state, effects } = startPathway(plan, 'f1', anchors, anchors.enrolment);
    expect(state.phase).toBe('pregnancy');
    expect(step(state, 'preg-24')).toMatchObject({ status: 'planned', target: '2027-02-09', earliest: '2027-02-02', latest: '2027-02-16' });
    expect(step(state, 'hs-6w')).toMatchObject({ status: 'waiting' });
    // Week 6-12 closes on 2026-11-17, after enrolment: still the family's to attend.
    expect(step(state, 'preg-1')).toMatchObject({ status: 'planned', latest: '2026-11-17' });
    expect(effects).toContainEqual({ type: 'planned-encounter', step: 'preg-24', start: '2027-02-02', end: '2027-02-16', status: 'planned' });
    expect(effects.at(-1)).toEqual({ type: 'care-plan' });
  });

  it('leaves out windows that closed before the family joined', () => {
    const { state } = startPathway(plan, 'f1', { enrolment: '2027-01-20', dueDate: '2027-06-01' }, '2027-01-20');
    expect(step(state, 'preg-1')).toMatchObject({ status: 'not-applicable', reason: 'before enrolment' });
    expect(step(state, 'ultrasound-routine')).toMatchObject({ status: 'not-applicable' });
  });

  it('refuses a family without a due date or birth date', () => {
    expect(() => startPathway(plan, 'f1', { enrolment: '2026-11-03' }, '2026-11-03')).toThrow(PathwayInputError);
  });
});

describe('time passing', () => {
  it('marks a contact overdue the day after its window and tells the coordinator, once', () => {
    const start = startPathway(plan, 'f1', anchors, anchors.enrolment).state;
    expect(nextWakeUp(plan, start)).toBe('2026-11-18');
    const { state, effects } = advance(plan, start, '2026-11-18');
    expect(step(state, 'preg-1')).toMatchObject({ status: 'overdue' });
    expect(effects).toContainEqual(expect.objectContaining({ type: 'notify-coordinator', on: '2026-11-18', step: 'preg-1', rule: 'contact-overdue' }));
    const again = advance(plan, state, '2026-11-19');
    expect(again.effects.filter((e) => e.type === 'notify-coordinator')).toEqual([]);
  });

  it('closes the pathway when the child turns three', () => {
    let { state } = startPathway(plan, 'f1', { enrolment: '2026-11-03', birth: '2026-10-01' }, '2026-11-03');
    ({ state } = advance(plan, state, '2029-09-30'));
    expect(state.status).toBe('active');
    expect(state.phase).toBe('toddler');
    const last = advance(plan, state, '2029-10-01');
    expect(last.state).toMatchObject({ status: 'closed', closed: { exit: 'age-3', on: '2029-10-01', carePlanStatus: 'completed' } });
    expect(last.effects).toContainEqual({ type: 'closed', on: '2029-10-01', exit: 'age-3', carePlanStatus: 'completed' });
    expect(nextWakeUp(plan, last.state)).toBeUndefined();
  });
});

describe('events', () => {
  const started = () => startPathway(plan, 'f1', anchors, anchors.enrolment).state;

  it('records a held contact by step and by code', () => {
    let { state } = applyEvent(plan, started(), { type: 'encounter-recorded', status: 'finished', step: 'preg-1', date: '2026-11-10', encounter: 'Encounter/e1' }, '2026-11-10');
    expect(step(state, 'preg-1')).toMatchObject({ status: 'done', doneOn: '2026-11-10', encounter: 'Encounter/e1' });
    ({ state } = advance(plan, state, '2027-02-05'));
    ({ state } = applyEvent(plan, state, { type: 'encounter-recorded', status: 'finished', code: { system: 'https://forlop.no/fhir/CodeSystem/pathway-activity', code: 'pregnancy-consultation' }, date: '2027-02-05' }, '2027-02-05'));
    expect(step(state, 'preg-24')).toMatchObject({ status: 'done', doneOn: '2027-02-05' });
    expect(step(state, 'preg-28')).toMatchObject({ status: 'planned' });
  });

  it('re-plans pregnancy steps when the due date is corrected', () => {
    const { state, effects } = applyEvent(plan, started(), { type: 'due-date-changed', dueDate: '2027-06-15', date: '2026-11-05' }, '2026-11-05');
    expect(step(state, 'preg-24')).toMatchObject({ target: '2027-02-23' });
    expect(effects).toContainEqual({ type: 'planned-encounter', step: 'preg-24', start: '2027-02-16', end: '2027-03-02', status: 'planned' });
  });

  it('moves to the postnatal plan on an early birth and drops the pregnancy steps still ahead', () => {
    const { state } = applyEvent(plan, advance(plan, started(), '2027-04-20').state, { type: 'birth-registered', date: '2027-04-20' }, '2027-04-20');
    expect(state.phase).toBe('postnatal');
    expect(step(state, 'preg-36')).toMatchObject({ status: 'not-applicable', reason: 'phase pregnancy ended' });
    expect(step(state, 'hs-home-visit')).toMatchObject({ status: 'planned', target: '2027-04-28', earliest: '2027-04-27', latest: '2027-04-30' });
    expect(step(state, 'hs-6w')).toMatchObject({ target: '2027-06-01', earliest: '2027-05-25', latest: '2027-06-15' });
  });

  it('acts on an EPDS of 12: clinical interview, supportive conversations, coordinator told', () => {
    let { state } = applyEvent(plan, started(), { type: 'birth-registered', date: '2027-05-30' }, '2027-05-30');
    ({ state } = advance(plan, state, '2027-07-12'));
    const result = applyEvent(plan, state, { type: 'screening-recorded', instrument: 'epds', score: 12, items: { '10': 0 }, date: '2027-07-12' }, '2027-07-12');
    expect(step(result.state, 'epds-postnatal')).toMatchObject({ status: 'done', result: { score: 12, band: 'possible' } });
    expect(step(result.state, 'epds-clinical-interview')).toMatchObject({ status: 'planned', target: '2027-07-19', earliest: '2027-07-12', latest: '2027-07-26' });
    expect(step(result.state, 'supportive-conversations')).toMatchObject({ status: 'planned', start: '2027-07-26' });
    expect(result.effects).toContainEqual(expect.objectContaining({ type: 'notify-coordinator', rule: 'epds-possible' }));
    expect(result.effects.some((e) => e.type === 'start-handoff')).toBe(false);
  });

  it('starts a referral once when EPDS is high and item 10 is positive', () => {
    const { state, effects } = applyEvent(plan, started(), { type: 'screening-recorded', instrument: 'epds', score: 16, items: { '10': 2 }, date: '2026-11-10' }, '2026-11-10');
    expect(effects.filter((e) => e.type === 'start-handoff')).toEqual([{ type: 'start-handoff', key: 'mental-health-referral-1', on: '2026-11-10', handoff: 'mental-health-referral', rule: 'epds-probable' }]);
    expect(state.handoffs).toEqual([expect.objectContaining({ key: 'mental-health-referral-1', status: 'requested' })]);
    const accepted = applyEvent(plan, state, { type: 'handoff-updated', key: 'mental-health-referral-1', status: 'accepted', date: '2026-11-12' }, '2026-11-12');
    expect(accepted.state.checks).toEqual([expect.objectContaining({ check: 'section-10a', owner: 'dps', due: '2026-11-26', status: 'open' })]);
  });

  it('closes with care when the pregnancy ends: no reminders, planned encounters cancelled', () => {
    const { state, effects } = applyEvent(plan, started(), { type: 'pregnancy-ended', date: '2026-12-01' }, '2026-12-01');
    expect(state).toMatchObject({ status: 'closed', closed: { exit: 'pregnancy-ended', carePlanStatus: 'revoked' } });
    expect(step(state, 'preg-24')).toMatchObject({ status: 'cancelled' });
    expect(effects).toContainEqual({ type: 'planned-encounter', step: 'preg-24', start: '2027-02-02', end: '2027-02-16', status: 'cancelled' });
    expect(nextWakeUp(plan, state)).toBeUndefined();
    expect(advance(plan, state, '2027-06-01').effects).toEqual([]);
  });

  it('applies an event with the same id once', () => {
    const event = { type: 'encounter-recorded', status: 'no-show', step: 'preg-1', date: '2026-11-10', eventId: 'Encounter/e1/_history/1' } as const;
    const once = applyEvent(plan, started(), event, '2026-11-10').state;
    const twice = applyEvent(plan, once, event, '2026-11-10');
    expect(step(twice.state, 'preg-1').noShows).toBe(1);
    expect(twice.effects).toEqual([]);
  });

  it('takes a second delivery of an event that would now be invalid as the duplicate it is, not as an error', () => {
    const pause = { type: 'paused', reason: 'inpatient', date: '2026-11-10', eventId: 'client:pause-1' } as const;
    const once = applyEvent(plan, started(), pause, '2026-11-10').state;
    const twice = applyEvent(plan, once, pause, '2026-11-11');
    expect(twice.state).toBe(once);
    expect(twice.effects).toEqual([]);
    expect(() => applyEvent(plan, once, { ...pause, eventId: 'client:pause-2' }, '2026-11-11')).toThrow('The pathway is already paused');
  });

  it('refuses input that makes no sense, with the reason', () => {
    expect(() => applyEvent(plan, started(), { type: 'screening-recorded', instrument: 'epds', score: 31, date: '2026-11-10' }, '2026-11-10')).toThrow('Edinburgh Postnatal Depression Scale scores run from 0 to 30; got 31');
    expect(() => applyEvent(plan, started(), { type: 'birth-registered', date: '2026-12-01' }, '2026-11-10')).toThrow('date 2026-12-01 is in the future (today is 2026-11-10)');
    expect(() => applyEvent(plan, started(), { type: 'screening-recorded', instrument: 'phq9', score: 3, date: '2026-11-10' }, '2026-11-10')).toThrow("Unknown instrument 'phq9'");
  });

  it('lets windows pass without alarms while paused', () => {
    let { state } = applyEvent(plan, started(), { type: 'paused', reason: 'inpatient', date: '2026-11-04' }, '2026-11-04');
    const passed = advance(plan, state, '2026-11-20');
    expect(step(passed.state, 'preg-1')).toMatchObject({ status: 'not-applicable' });
    expect(passed.effects.filter((e) => e.type === 'notify-coordinator')).toEqual([]);
    ({ state } = applyEvent(plan, passed.state, { type: 'resumed', date: '2026-11-20' }, '2026-11-20'));
    expect(state.status).toBe('active');
  });

  it('holds a handoff whose legal basis the family refused, tells the coordinator, and sends it when the basis is given again', () => {
    const fa = DefinitionRegistry.builtIn().plan('Familieambulatorium'); // referral at enrolment, legal basis consent
    let { state } = startPathway(fa, 'f1', anchors, anchors.enrolment);
    expect(state.handoffs).toEqual([expect.objectContaining({ key: 'familieambulatorium-referral-1', status: 'requested' })]);
    // Refused: the open (undecided) referral is held, its Task to go on hold.
    let t = applyEvent(fa, state, { type: 'consent-changed', basis: 'consent', status: 'rejected', date: '2026-11-05' }, '2026-11-05');
    expect(t.state.handoffs[0]).toMatchObject({ status: 'on-hold', held: 'legal basis consent rejected' });
    expect(t.effects).toContainEqual(expect.objectContaining({ type: 'hold-handoff', key: 'familieambulatorium-referral-1', on: '2026-11-05' }));
    expect(t.state.status).toBe('active'); // refused is not withdrawn: the pathway goes on
    // A referral in under the same basis is held and not sent: no start-handoff, the coordinator is told.
    state = t.state;
    t = applyEvent(fa, state, { type: 'referral-received', handoff: 'familieambulatorium-referral', key: 'familieambulatorium-referral-in-abc', serviceRequest: 'ServiceRequest/x1', performer: 'Organization/fa', requester: 'Organization/gp', date: '2026-11-06' }, '2026-11-06');
    expect(t.effects.map((e) => e.type)).toEqual(['notify-coordinator', 'care-plan']);
    expect(t.state.handoffs[1]).toMatchObject({ key: 'familieambulatorium-referral-in-abc', status: 'on-hold', serviceRequest: 'ServiceRequest/x1' });
    expect(t.state.timeline.at(-1)?.what).toMatch(/held, not sent/);
    // Given again: the one never sent is sent now, with its referral; the one held in flight stays with its receiver.
    t = applyEvent(fa, t.state, { type: 'consent-changed', basis: 'consent', status: 'active', date: '2026-11-09' }, '2026-11-09');
    expect(t.effects).toContainEqual({ type: 'start-handoff', key: 'familieambulatorium-referral-in-abc', on: '2026-11-09', handoff: 'familieambulatorium-referral', referral: { serviceRequest: 'ServiceRequest/x1', performer: 'Organization/fa', requester: 'Organization/gp' } });
    expect(t.state.handoffs.map((h) => [h.key, h.status])).toEqual([['familieambulatorium-referral-1', 'on-hold'], ['familieambulatorium-referral-in-abc', 'requested']]);
    // The same referral again changes nothing.
    const again = applyEvent(fa, t.state, { type: 'referral-received', handoff: 'familieambulatorium-referral', key: 'familieambulatorium-referral-in-abc', serviceRequest: 'ServiceRequest/x1', performer: 'Organization/fa', date: '2026-11-10' }, '2026-11-10');
    expect(again.effects.filter((e) => e.type === 'start-handoff')).toEqual([]);
  });

  it('closes the pathway when consent is withdrawn, holding handoffs under it first', () => {
    const fa = DefinitionRegistry.builtIn().plan('Familieambulatorium');
    const { state } = startPathway(fa, 'f1', anchors, anchors.enrolment);
    const t = applyEvent(fa, state, { type: 'consent-changed', basis: 'consent', status: 'withdrawn', date: '2026-11-05' }, '2026-11-05');
    expect(t.effects.map((e) => e.type)).toEqual(expect.arrayContaining(['hold-handoff', 'closed']));
    expect(t.state).toMatchObject({ status: 'closed', closed: { exit: 'consent-withdrawn', carePlanStatus: 'revoked' } });
  });

  it('refuses a referral to a handoff that takes none', () => {
    const { state } = startPathway(plan, 'f1', anchors, anchors.enrolment);
    const event = { type: 'referral-received', handoff: 'mental-health-discharge', key: 'k-1', serviceRequest: 'ServiceRequest/x', performer: 'Organization/hs', date: '2026-11-03' } as const;
    expect(() => applyEvent(plan, state, event, '2026-11-03')).toThrow("Handoff 'mental-health-discharge' is not started by referrals (startedBy: rule)");
  });
});
