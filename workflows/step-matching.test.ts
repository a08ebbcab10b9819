/**
 * Which planned step a result or contact fulfils (issue #29): only one whose
 * phase has begun and whose window, widened by the definition's matchWithin,
 * holds its date; an explicit link wins and is refused when it names a step
 * it cannot fulfil; otherwise an unplanned entry, with the rules firing.
 */
import { DefinitionRegistry } from '../pathways/registry';
import type { Plan } from '../pathways/plan';
import { advance, applyEvent, startPathway, type PathwayState } from './pathway-state';

const registry = DefinitionRegistry.builtIn();
const plan: Plan = registry.plan('https://forlop.no/fhir/PlanDefinition/basis|1.1.0');
// Due 2027-06-01: gestational week 0 starts 2026-08-25. EPDS in pregnancy is due week 26-30 (2027-02-23 to 2027-03-23).
const anchors = { enrolment: '2026-11-03', dueDate: '2027-06-01' };
const step = (state: PathwayState, key: string) => state.steps.find((s) => s.key === key)!;
const consultation = { system: 'https://forlop.no/fhir/CodeSystem/pathway-activity', code: 'pregnancy-consultation' };
const epds = (date: string, score = 4, extra: object = {}) => ({ type: 'screening-recorded', instrument: 'epds', score, items: { '10': 0 }, date, ...extra }) as const;

function at(state: PathwayState, day: string): PathwayState {
  return advance(plan, state, day).state;
}

describe('matching a result or contact to a planned step', () => {
  const started = () => startPathway(plan, 'f1', anchors, anchors.enrolment).state;

  it('keeps the postnatal EPDS open after two EPDS in pregnancy, and it becomes overdue when not done', () => {
    let state = at(started(), '2026-12-29'); // week 18
    state = applyEvent(plan, state, epds('2026-12-29', 4), '2026-12-29').state;
    state = applyEvent(plan, state, epds('2026-12-29', 5), '2026-12-29').state;
    // Week 18 is outside week 26-30 and its two weeks' tolerance: both are extra screenings on the timeline.
    expect(step(state, 'epds-pregnancy')).toMatchObject({ status: 'planned' });
    expect(step(state, 'epds-postnatal')).toMatchObject({ status: 'waiting' });
    expect(state.timeline.filter((e) => e.unplanned)).toEqual([
      { on: '2026-12-29', what: 'Edinburgh Postnatal Depression Scale: 4 (Under cut-off), unplanned', unplanned: true },
      { on: '2026-12-29', what: 'Edinburgh Postnatal Depression Scale: 5 (Under cut-off), unplanned', unplanned: true },
    ]);
    state = applyEvent(plan, at(state, '2027-06-01'), { type: 'birth-registered', date: '2027-06-01' }, '2027-06-01').state;
    // 6-8 weeks after the birth: 2027-07-13 to 2027-07-27; overdue the day after, the coordinator told.
    expect(step(state, 'epds-postnatal')).toMatchObject({ status: 'planned', earliest: '2027-07-13', latest: '2027-07-27' });
    const overdue = advance(plan, state, '2027-07-28');
    expect(step(overdue.state, 'epds-postnatal')).toMatchObject({ status: 'overdue' });
    expect(overdue.effects).toContainEqual(expect.objectContaining({ type: 'notify-coordinator', on: '2027-07-28', step: 'epds-postnatal', rule: 'contact-overdue' }));
  });

  it('fires the rules on an unplanned result as on a planned one', () => {
    const t = applyEvent(plan, at(started(), '2026-12-29'), epds('2026-12-29', 16), '2026-12-29');
    expect(t.effects.filter((e) => e.type === 'start-handoff')).toEqual([expect.objectContaining({ handoff: 'mental-health-referral', rule: 'epds-probable' })]);
    expect(step(t.state, 'epds-pregnancy')).toMatchObject({ status: 'planned' });
  });

  it('lets a result inside the tolerance fulfil the step', () => {
    // Week 25 (2027-02-16): a week before the window opens, inside the two weeks basis 1.1.0 allows for screenings.
    const t = applyEvent(plan, at(started(), '2027-02-16'), epds('2027-02-16'), '2027-02-16');
    expect(step(t.state, 'epds-pregnancy')).toMatchObject({ status: 'done', doneOn: '2027-02-16', result: { score: 4, band: 'none' } });
    // Week 23 (2027-02-02) is beyond it.
    const early = applyEvent(plan, at(started(), '2027-02-02'), epds('2027-02-02'), '2027-02-02');
    expect(step(early.state, 'epds-pregnancy')).toMatchObject({ status: 'planned' });
  });

  it('leaves the planned consultation open after an early extra one', () => {
    // Week 20 (2027-01-12); the week-24 consultation's window is week 23-25 and contacts match inside it only.
    const t = applyEvent(plan, at(started(), '2027-01-12'), { type: 'encounter-recorded', status: 'finished', code: consultation, date: '2027-01-12', encounter: 'Encounter/extra' }, '2027-01-12');
    expect(step(t.state, 'preg-24')).toMatchObject({ status: 'planned' });
    expect(t.state.timeline.at(-1)).toEqual({ on: '2027-01-12', what: 'Unplanned contact finished: Svangerskapskonsultasjon', unplanned: true });
    // The planned one, held in its window, is matched as before.
    const held = applyEvent(plan, at(t.state, '2027-02-05'), { type: 'encounter-recorded', status: 'finished', code: consultation, date: '2027-02-05' }, '2027-02-05');
    expect(step(held.state, 'preg-24')).toMatchObject({ status: 'done', doneOn: '2027-02-05' });
    expect(step(held.state, 'preg-28')).toMatchObject({ status: 'planned' });
  });

  it('never gives a result to a step of a phase not begun, even within its tolerance', () => {
    // Born 2027-06-01: the postnatal EPDS (phase infant, from 6 weeks) is due 2027-07-13 to 2027-07-27;
    // at 5 weeks (2027-07-06) the two weeks' tolerance would reach it, but its phase has not begun.
    let state = applyEvent(plan, at(started(), '2027-06-01'), { type: 'birth-registered', date: '2027-06-01' }, '2027-06-01').state;
    state = applyEvent(plan, at(state, '2027-07-06'), epds('2027-07-06'), '2027-07-06').state;
    expect(step(state, 'epds-postnatal')).toMatchObject({ status: 'planned' });
    expect(state.timeline.at(-1)).toMatchObject({ unplanned: true });
    // From 6 weeks on it is.
    state = applyEvent(plan, at(state, '2027-07-13'), epds('2027-07-13'), '2027-07-13').state;
    expect(step(state, 'epds-postnatal')).toMatchObject({ status: 'done', doneOn: '2027-07-13' });
  });

  it('gives a linked result exactly the step it names', () => {
    // Linked (basedOn the CarePlan activity) to the pregnancy EPDS, in week 18: the link wins over the dates.
    const t = applyEvent(plan, at(started(), '2026-12-29'), epds('2026-12-29', 4, { step: 'epds-pregnancy' }), '2026-12-29');
    expect(step(t.state, 'epds-pregnancy')).toMatchObject({ status: 'done', doneOn: '2026-12-29' });
    expect(step(t.state, 'epds-postnatal')).toMatchObject({ status: 'waiting' });
  });

  it('refuses a link to a step the result cannot fulfil, with the reason', () => {
    const state = at(started(), '2026-12-29');
    expect(() => applyEvent(plan, state, epds('2026-12-29', 4, { step: 'preg-24' }), '2026-12-29')).toThrow("The link names step 'preg-24', which this cannot fulfil: it is not a Edinburgh Postnatal Depression Scale screening");
    expect(() => applyEvent(plan, state, { type: 'screening-recorded', instrument: 'tweak', score: 0, step: 'epds-pregnancy', date: '2026-12-29' }, '2026-12-29')).toThrow('it is not a TWEAK screening');
    expect(() => applyEvent(plan, state, { type: 'encounter-recorded', status: 'finished', step: 'epds-pregnancy', date: '2026-12-29' }, '2026-12-29')).toThrow('it is a screening, recorded by its result, not by an encounter');
    expect(() => applyEvent(plan, state, epds('2026-12-29', 4, { step: 'epds-3' }), '2026-12-29')).toThrow("No step 'epds-3' in this family's plan");
    // Before enrolment, the first consultation's window had closed: it is not the family's to fulfil.
    const late = startPathway(plan, 'f2', { enrolment: '2027-01-20', dueDate: '2027-06-01' }, '2027-01-20').state;
    expect(() => applyEvent(plan, late, { type: 'encounter-recorded', status: 'finished', step: 'preg-1', date: '2027-01-20' }, '2027-01-20')).toThrow("The link names step 'preg-1', which is not-applicable (before enrolment)");
  });

  it('keeps the nearest-step matching for runs recorded before it (legacyMatching)', () => {
    const legacy = { ...at(started(), '2026-12-29'), legacyMatching: true };
    let state = applyEvent(plan, legacy, epds('2026-12-29', 4), '2026-12-29').state;
    state = applyEvent(plan, state, epds('2026-12-29', 5), '2026-12-29').state;
    expect(step(state, 'epds-pregnancy')).toMatchObject({ status: 'done' });
    expect(step(state, 'epds-postnatal')).toMatchObject({ status: 'done' });
  });
});
