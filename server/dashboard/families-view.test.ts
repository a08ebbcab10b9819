import type { FamilySummary } from '../coordinator/api';
import { applyFilters, countsOf, parseFilters, urgency, type FamilyRow } from './families-view';

const step = (key: string, target: string, deliveredBy = 'jordmor') => ({ key, step: key, title: key, kind: 'contact' as const, deliveredBy, status: 'planned' as const, target });
const handoff = (daysLeft: number | undefined, deadline?: string): FamilySummary['openHandoffs'][number] => ({ key: 'h-1', handoff: 'h', status: 'received', openedOn: '2026-11-02', escalations: 0, ...(deadline ? { deadline } : {}), ...(daysLeft !== undefined ? { daysLeft } : {}) });

function row(id: string, extra: Partial<FamilyRow> = {}): FamilyRow {
  return { familyId: id, carePlan: `CarePlan/${id}`, canonical: 'c|1', status: 'active', phase: { id: 'pregnancy', title: 'Svangerskap' }, nextDue: [step('a', '2026-12-01')], overdue: [], openHandoffs: [], openChecks: [], organisations: ['Organization/x'], handoffServices: {}, ...extra };
}

test('parseFilters keeps known values and drops the rest', () => {
  expect(parseFilters({ q: '  anna ', overdue: 'maybe', within: '-3', sort: 'nonsense', phase: '' })).toEqual({ q: 'anna', phase: undefined, overdue: undefined, service: undefined, organisation: undefined, within: undefined, sort: 'next' });
  expect(parseFilters({ overdue: 'true', within: '5', sort: 'deadline' })).toMatchObject({ overdue: 'true', within: 5, sort: 'deadline' });
});

test('search matches the family id and the name; the other filters combine', () => {
  const rows = [
    row('aaaa1111', { name: 'Anna Testesen' }),
    row('bbbb2222', { overdue: [step('b', '2026-11-01')], openHandoffs: [handoff(-2, '2026-11-24')], handoffServices: { 'h-1': 'dps' } }),
    row('cccc3333', { phase: { id: 'infancy', title: 'Spedbarn' }, openHandoffs: [handoff(12, '2026-12-08')] }),
  ];
  const ids = (f: Record<string, string>) => applyFilters(rows, parseFilters(f)).map((r) => r.familyId);
  expect(ids({ q: 'ANNA' })).toEqual(['aaaa1111']);
  expect(ids({ q: 'bbbb' })).toEqual(['bbbb2222']);
  expect(ids({ overdue: 'true' })).toEqual(['bbbb2222']);
  expect(ids({ phase: 'infancy' })).toEqual(['cccc3333']);
  expect(ids({ service: 'dps' })).toEqual(['bbbb2222']);
  expect(ids({ within: '3' })).toEqual(['bbbb2222']);
  expect(ids({ sort: 'deadline' })).toEqual(['bbbb2222', 'cccc3333', 'aaaa1111']);
  expect(countsOf(rows)).toEqual({ families: 3, overdueContacts: 1, handoffsPastDeadline: 1 });
});

test('urgency: red past the deadline, amber within 2 working days (weekends and holidays skipped)', () => {
  expect(urgency(handoff(-1, '2026-12-02'), '2026-12-03')).toBe('overdue');
  // Friday 4 December 2026 to Tuesday 8 December: 2 working days.
  expect(urgency(handoff(4, '2026-12-08'), '2026-12-04')).toBe('soon');
  expect(urgency(handoff(5, '2026-12-09'), '2026-12-04')).toBeUndefined();
  // 24 December 2026 (Thursday) to 28 December: 25 and 26 are holidays, 27 Sunday: 1 working day.
  expect(urgency(handoff(4, '2026-12-28'), '2026-12-24')).toBe('soon');
  expect(urgency(handoff(undefined), '2026-12-24')).toBeUndefined();
});
