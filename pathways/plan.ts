/**
 * The compiled form of a pathway definition: what a family workflow carries
 * and interprets. Plain serialisable data and pure helpers only, so workflow
 * code may import this file (no Node, no I/O, no clock).
 */
import { addDays, addMonths, addWeeks, addWorkingDays, type IsoDate } from './calendar';

export type AnchorName = 'enrolment' | 'dueDate' | 'gestation' | 'birth' | 'event';

/** A calendar offset; months and years are calendar months (31 Jan + 1mo = 28/29 Feb). */
export interface Offset {
  n: number;
  /** h (hours) only in urgent handoffs' reminders and escalation, which count in instants, not days. */
  unit: 'h' | 'd' | 'w' | 'mo' | 'y';
}

export interface TimePoint {
  anchor: AnchorName;
  offset: Offset;
}

export interface Coding {
  system: string;
  code: string;
  display?: string;
}

export interface SourceRef {
  id: string;
  title: string;
  url?: string;
}

interface StepBase {
  id: string;
  title: string;
  phase?: string;
  deliveredBy: string;
  trigger: 'plan' | 'rule';
  /** How far outside its window (or an intervention's run) a result or contact still fulfils it; absent: the window only. */
  matchWithin?: Offset;
  source: SourceRef;
}

export interface ContactStep extends StepBase {
  kind: 'contact';
  contactKind?: string;
  code: Coding;
  encounterClass: string;
  at: TimePoint;
  window: { earliest: Offset; latest: Offset };
  plannedEncounter: boolean;
}

export interface ScreeningStep extends StepBase {
  kind: 'screening';
  instrument: string;
  code: Coding;
  encounterClass: string;
  at: TimePoint;
  window: { earliest: Offset; latest: Offset };
  plannedEncounter: boolean;
}

export interface InterventionStep extends StepBase {
  kind: 'intervention';
  code: Coding;
  start: TimePoint;
  every: Offset;
  count?: number;
  until?: TimePoint;
}

export type PlanStep = ContactStep | ScreeningStep | InterventionStep;

export interface Band {
  id: string;
  title: string;
  min: number;
  max: number;
}

export interface Instrument {
  id: string;
  title: string;
  code: Coding;
  min: number;
  max: number;
  items?: number;
  /** Canonical url of the instrument's Questionnaire (no version). */
  questionnaire?: string;
  bands: Band[];
  source: SourceRef;
}

export interface Condition {
  instrument?: string;
  band?: string[];
  item?: { linkId: string; min: number };
  step?: string[];
  status?: 'finished' | 'cancelled' | 'no-show';
  phase?: string[];
  basis?: string;
  consent?: 'active' | 'rejected' | 'withdrawn';
}

export type Action =
  | { schedule: string }
  | { cancel: string }
  | { handoff: string }
  | { notifyCoordinator: string }
  | { openCheck: string }
  | { exit: string };

export type PathwayEventName =
  | 'enrolled'
  | 'due-date-changed'
  | 'birth-registered'
  | 'pregnancy-ended'
  | 'encounter-recorded'
  | 'screening-recorded'
  | 'contact-overdue'
  | 'consent-changed'
  | 'moved'
  | 'phase-entered';

export interface Rule {
  id: string;
  title?: string;
  on: PathwayEventName;
  when?: Condition;
  do: Action[];
  source: SourceRef;
}

export interface Deadline {
  workingDays?: number;
  days?: number;
  /** Calendar months, e.g. barnevernsloven §2-2's three months for an investigation. */
  months?: number;
}

/** The day a deadline falls on, counted from `base`: working days skip weekends and Norwegian public holidays. */
export function dueAfter(base: IsoDate, deadline: Deadline): IsoDate {
  if (deadline.workingDays !== undefined) return addWorkingDays(base, deadline.workingDays);
  if (deadline.months !== undefined) return addMonths(base, deadline.months);
  return addDays(base, deadline.days ?? 0);
}

export interface Handoff {
  id: string;
  title: string;
  from: string;
  to: string;
  reason?: Coding;
  legalBasis: 'consent' | 'health-personnel-cooperation' | 'section-33';
  /** What starts it: a rule (or a returnHandoff), and/or a referral another system writes to the `to` service. */
  startedBy: ('rule' | 'referral')[];
  /** urgent: `deadline.hours` from the moment it is sent, reminders and escalation in `hours` (HourOffset). */
  priority: 'routine' | 'urgent';
  deadline: Deadline & { hours?: number; from: 'sent' | 'received' };
  reminders: Offset[];
  escalation: { after: Offset; to: 'coordinator' | 'service-leader' }[];
  /** Escalate a request still unopened (Task requested) this long after it was sent. */
  unopened?: Deadline & { to: 'coordinator' | 'service-leader' };
  /** `after`: 'sent', 'accepted', 'first-attendance' or an earlier milestone's id. */
  milestones: { id: string; title: string; within: Deadline; after: string; repeat: boolean }[];
  returnHandoff?: string;
  checkOnAccept?: string;
  source: SourceRef;
}

export interface Check {
  id: string;
  title: string;
  code?: Coding;
  owner: string;
  deadline: Deadline;
  source: SourceRef;
}

export interface Exit {
  id: string;
  title: string;
  on?: 'pregnancy-ended' | 'moved' | 'consent-withdrawn' | 'ended';
  at?: TimePoint;
  carePlanStatus: 'completed' | 'revoked';
  source: SourceRef;
}

export interface Phase {
  id: string;
  title: string;
  start: TimePoint;
}

export interface Service {
  id: string;
  title: string;
  kind: 'municipal' | 'specialist';
  code?: Coding;
}

export interface Plan {
  url: string;
  version: string;
  /** url|version, as CarePlan.instantiatesCanonical carries it. */
  canonical: string;
  name: string;
  title: string;
  phases: Phase[];
  steps: PlanStep[];
  instruments: Record<string, Instrument>;
  rules: Rule[];
  handoffs: Record<string, Handoff>;
  checks: Record<string, Check>;
  exits: Exit[];
  services: Record<string, Service>;
}

/** The dates a family's plan is computed from. */
export interface Anchors {
  enrolment: IsoDate;
  dueDate?: IsoDate;
  birth?: IsoDate;
}

/** Days from the first day of gestational week 0 (last menstrual period) to the due date: 40 weeks (Naegele). */
const GESTATION_DAYS = 280;

export function applyOffset(date: IsoDate, offset: Offset): IsoDate {
  switch (offset.unit) {
    case 'd':
      return addDays(date, offset.n);
    case 'w':
      return addWeeks(date, offset.n);
    case 'mo':
      return addMonths(date, offset.n);
    case 'y':
      return addMonths(date, offset.n * 12);
    case 'h':
      // Whole days of it on a date; urgent handoffs count hours on instants (offsetMs).
      return addDays(date, Math.trunc(offset.n / 24));
  }
}

/** An offset in milliseconds, for hour-scale clocks (urgent handoffs); days are 24 hours there. */
export function offsetMs(offset: Offset): number {
  const hours = { h: 1, d: 24, w: 168, mo: 24 * 30, y: 24 * 365 }[offset.unit];
  return offset.n * hours * 3_600_000;
}

export function anchorDate(anchors: Anchors, anchor: AnchorName, eventDate?: IsoDate): IsoDate | undefined {
  switch (anchor) {
    case 'enrolment':
      return anchors.enrolment;
    case 'dueDate':
      return anchors.dueDate;
    case 'gestation':
      return anchors.dueDate ? addDays(anchors.dueDate, -GESTATION_DAYS) : undefined;
    case 'birth':
      return anchors.birth;
    case 'event':
      return eventDate;
  }
}

/** The date of a time point, or undefined while its anchor is not known (e.g. birth during pregnancy). */
export function resolve(anchors: Anchors, point: TimePoint, eventDate?: IsoDate): IsoDate | undefined {
  const base = anchorDate(anchors, point.anchor, eventDate);
  return base === undefined ? undefined : applyOffset(base, point.offset);
}

export function formatOffset(offset: Offset): string {
  return `${offset.n}${offset.unit}`;
}

/** Rough length in days, for ordering and checks only (months as 30.44 days); dates always use applyOffset. */
export function approximateDays(offset: Offset): number {
  const perUnit = { h: 1 / 24, d: 1, w: 7, mo: 30.44, y: 365.25 }[offset.unit];
  return offset.n * perUnit;
}

export function parseOffset(text: string): Offset {
  const m = /^(-?\d+)(h|d|w|mo|y)$/.exec(text);
  if (!m) throw new TypeError(`'${text}' is not an offset such as 6w, -2d, 3mo or 1y`);
  return { n: Number(m[1]), unit: m[2] as Offset['unit'] };
}

export function findStep(plan: Plan, id: string): PlanStep | undefined {
  return plan.steps.find((s) => s.id === id);
}

export function bandOf(instrument: Instrument, score: number): Band | undefined {
  return instrument.bands.find((b) => score >= b.min && score <= b.max);
}
