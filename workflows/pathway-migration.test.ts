import path from 'node:path';
import { loadDefinitionsDirectory } from '../pathways/definitions-directory';
import { migrate, validateMigration } from './pathway-migration';
import { applyEvent, startPathway } from './pathway-state';

const { registry } = loadDefinitionsDirectory(path.join(__dirname, '..', 'test', 'pathway', 'local-definitions'));
const v100 = registry.plan('https://example.kommune.no/pathways/helsestasjon|1.0.0');
const v101 = registry.plan('https://example.kommune.no/pathways/helsestasjon|1.0.1');

const bornFamily = (today: string) => {
  const started = startPathway(v100, 'f1', { enrolment: '2026-10-23', dueDate: '2027-05-01' }, '2026-10-23').state;
  return applyEvent(v100, started, { type: 'birth-registered', date: '2027-04-28' }, today).state;
};

it('shows per family the steps added, removed and re-dated, and keeps the handoffs', () => {
  const state = bornFamily('2027-05-10');
  const { diff, state: moved, effects, retire } = migrate(v100, v101, state, '2027-05-10');
  expect(diff).toMatchObject({ from: v100.canonical, to: v101.canonical, added: ['hs-4m-home'], removed: [{ key: 'hs-4m', status: 'planned' }], redated: [{ key: 'hs-9m', from: '2028-01-28', to: '2028-01-26' }], handoffsKept: [] });
  expect(diff.blocked).toBeUndefined();
  expect(moved!.canonical).toBe(v101.canonical);
  expect(moved!.steps.find((s) => s.key === 'hs-9m')).toMatchObject({ status: 'planned', target: '2028-01-26', earliest: '2028-01-12', latest: '2028-02-16' });
  // What the family has lived keeps its status: the home visit missed before the move is still missed.
  expect(moved!.steps.find((s) => s.key === 'hs-home-visit')?.status).toBe(state.steps.find((s) => s.key === 'hs-home-visit')?.status);
  expect(effects).toEqual(expect.arrayContaining([{ type: 'care-plan' }, { type: 'planned-encounter', step: 'hs-9m', start: '2028-01-12', end: '2028-02-16', status: 'planned' }]));
  // The removed 4-month consultation's planned Encounter is cancelled first, on the old plan.
  expect(retire).toEqual([{ type: 'planned-encounter', step: 'hs-4m', start: '2027-08-18', end: '2027-09-08', status: 'cancelled' }]);
  expect(moved!.timeline.at(-1)?.what).toBe(`Moved from ${v100.canonical} to ${v101.canonical}: 1 steps added, 1 removed, 1 re-dated`);
});

it('leaves a family whose step under way the new version removes, with the reason', () => {
  const state = bornFamily('2027-08-20');
  expect(state.steps.find((s) => s.key === 'hs-4m')).toMatchObject({ status: 'planned', earliest: '2027-08-18' });
  const { diff, state: moved } = migrate(v100, v101, state, '2027-08-20');
  expect(moved).toBeUndefined();
  expect(diff.blocked).toBe(`step hs-4m is under way (its window 2027-08-18..2027-09-08 is open) and ${v101.canonical} removes it`);
  expect(() => validateMigration(v100, v101, state, '2027-08-20')).toThrow(`Cannot move to ${v101.canonical}: step hs-4m is under way`);
});

it('refuses a family on another version', () => {
  const state = bornFamily('2027-05-10');
  expect(migrate(v101, v100, state, '2027-05-10').diff.blocked).toBe(`the family runs on ${v100.canonical}, not ${v101.canonical}`);
});
