/**
 * The families page's filters, sorting and counts: pure functions over the
 * coordinator API's family summaries (so the page shows what the API lets
 * the user see, and nothing the API did not return).
 */
import { workingDaysBetween } from '../../pathways/calendar';
import type { FamilySummary, HandoffSummary } from '../coordinator/api';

export type SortKey = 'next' | 'overdue' | 'deadline' | 'family';
export const SORT_KEYS: readonly SortKey[] = ['next', 'overdue', 'deadline', 'family'];

export interface FamilyFilters {
  q?: string;
  phase?: string;
  overdue?: 'true' | 'false';
  service?: string;
  organisation?: string;
  /** Families with an open handoff whose deadline is at most this many days away (overdue ones included). */
  within?: number;
  sort: SortKey;
}

export interface FamilyRow extends FamilySummary {
  /** The mother's name, only when the API let this user read her Patient. */
  name?: string;
  /** The receiving service of each open handoff (by handoff key), from the family's plan. */
  handoffServices: Record<string, string>;
}

const one = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);

export function parseFilters(query: Record<string, unknown>): FamilyFilters {
  const overdue = one(query.overdue);
  const within = one(query.within);
  const sort = one(query.sort);
  const days = within !== undefined ? Number(within) : undefined;
  return {
    q: one(query.q)?.slice(0, 100),
    phase: one(query.phase),
    overdue: overdue === 'true' || overdue === 'false' ? overdue : undefined,
    service: one(query.service),
    organisation: one(query.organisation),
    within: days !== undefined && Number.isInteger(days) && days >= 0 && days <= 365 ? days : undefined,
    sort: SORT_KEYS.includes(sort as SortKey) ? (sort as SortKey) : 'next',
  };
}

/** The services a family is involved with: who delivers its due and overdue steps, and who receives its open handoffs. */
export function servicesOf(row: FamilyRow): string[] {
  return [...new Set([...row.nextDue.map((s) => s.deliveredBy), ...row.overdue.map((s) => s.deliveredBy), ...Object.values(row.handoffServices)])];
}

const nextDate = (row: FamilyRow) => row.nextDue[0]?.target ?? row.nextDue[0]?.nextSession ?? row.nextDue[0]?.earliest ?? '9999-12-31';
const nearestDeadline = (row: FamilyRow) => Math.min(...row.openHandoffs.map((h) => h.daysLeft ?? Number.POSITIVE_INFINITY));

export function applyFilters(rows: FamilyRow[], filters: FamilyFilters): FamilyRow[] {
  const q = filters.q?.toLocaleLowerCase('nb');
  const kept = rows.filter(
    (row) =>
      (!q || row.familyId.toLowerCase().includes(q) || (row.name?.toLocaleLowerCase('nb').includes(q) ?? false)) &&
      (!filters.phase || row.phase?.id === filters.phase) &&
      (!filters.overdue || row.overdue.length > 0 === (filters.overdue === 'true')) &&
      (!filters.service || servicesOf(row).includes(filters.service)) &&
      (!filters.organisation || row.organisations.includes(filters.organisation)) &&
      (filters.within === undefined || row.openHandoffs.some((h) => h.daysLeft !== undefined && h.daysLeft <= filters.within!)),
  );
  const by: Record<SortKey, (a: FamilyRow, b: FamilyRow) => number> = {
    next: (a, b) => nextDate(a).localeCompare(nextDate(b)) || a.familyId.localeCompare(b.familyId),
    overdue: (a, b) => b.overdue.length - a.overdue.length || nextDate(a).localeCompare(nextDate(b)),
    deadline: (a, b) => nearestDeadline(a) - nearestDeadline(b) || a.familyId.localeCompare(b.familyId),
    family: (a, b) => a.familyId.localeCompare(b.familyId),
  };
  return kept.sort(by[filters.sort]);
}

export interface FamilyCounts {
  families: number;
  overdueContacts: number;
  handoffsPastDeadline: number;
}

export function countsOf(rows: FamilyRow[]): FamilyCounts {
  return {
    families: rows.length,
    overdueContacts: rows.reduce((n, r) => n + r.overdue.length, 0),
    handoffsPastDeadline: rows.reduce((n, r) => n + r.openHandoffs.filter((h) => h.daysLeft !== undefined && h.daysLeft < 0).length, 0),
  };
}

/** How urgent a handoff's deadline is: red past it, amber within 2 working days (Norwegian holidays skipped), else none. */
export function urgency(h: HandoffSummary, today: string): 'overdue' | 'soon' | undefined {
  if (h.daysLeft === undefined || !h.deadline) return undefined;
  if (h.daysLeft < 0) return 'overdue';
  return workingDaysBetween(today, h.deadline) <= 2 ? 'soon' : undefined;
}
