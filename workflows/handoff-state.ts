/**
 * One handoff between two services as a pure state machine: the receiving
 * organisation moves its Task through FHIR's Task states
 * (https://hl7.org/fhir/R4/task.html#statemachine), the legal deadline is
 * counted from when the request was sent or received (in working days:
 * weekends and Norwegian public holidays skipped, e.g. pasient- og
 * brukerrettighetsloven §2-2's 10 working days for assessing a referral),
 * reminders come before it and the escalation chain after it. The deadline
 * is met by a decision (accepted or rejected). Numbers come from the
 * definition's handoff; none live here.
 */
import { addDays, osloDate, type IsoDate } from '../pathways/calendar';
import { applyOffset, dueAfter, offsetMs, type Handoff } from '../pathways/plan';
import { canMoveTask, taskMoveProblem } from '../fhir/task-state';
import type { HandoffStatus } from './pathway-events';

export interface HandoffProgress {
  key: string;
  handoff: string;
  status: HandoffStatus;
  sentOn: IsoDate;
  receivedOn?: IsoDate;
  decidedOn?: IsoDate;
  closedOn?: IsoDate;
  /** The day by which a decision is due, once the day it counts from is known. */
  deadline?: IsoDate;
  remindersSent: number;
  escalationsSent: number;
  today: IsoDate;
  history: { on: IsoDate; status: HandoffStatus }[];
  /** Days each step of the treatment path was reached ('accepted', 'first-attendance', milestone ids). */
  reached?: Record<string, IsoDate[]>;
  /** Milestone due dates already escalated, as "<milestone>@<due>". */
  milestonesEscalated?: string[];
  /** Why the handoff is on hold: its legal basis was withdrawn before a decision. No reminders or escalations run meanwhile. */
  held?: string;
  /** The "not yet opened" escalation (the definition's `unopened`) has been sent. */
  unopenedEscalated?: boolean;
  /** Urgent handoffs (a deadline in hours): the instant it was sent and the instant a decision is due (ISO 8601, UTC). */
  sentAt?: string;
  deadlineAt?: string;
}

export type HandoffEffect =
  | { type: 'create-request'; on: IsoDate }
  | { type: 'reminder'; key: string; on: IsoDate; deadline: IsoDate }
  | { type: 'escalate'; key: string; on: IsoDate; to: 'coordinator' | 'service-leader'; deadline: IsoDate }
  /** The receiver has not opened the request (Task still requested) the definition's time after it was sent. */
  | { type: 'escalate-unopened'; key: string; on: IsoDate; to: 'coordinator' | 'service-leader'; sentOn: IsoDate; deadline?: IsoDate }
  /** The receiver rejected the request: the coordinator and the referrer are told at once. */
  | { type: 'rejected'; key: string; on: IsoDate }
  | { type: 'status'; status: HandoffStatus; on: IsoDate }
  | { type: 'milestone-overdue'; key: string; on: IsoDate; milestone: string; due: IsoDate }
  /** The Task goes on hold and the handoff's Consent becomes inactive. */
  | { type: 'hold-request'; on: IsoDate; reason: string };

export class HandoffInputError extends Error {
  override readonly name = 'HandoffInputError';
}

const CLOSED: HandoffStatus[] = ['rejected', 'completed', 'cancelled', 'failed'];

export function canMove(from: HandoffStatus, to: HandoffStatus): boolean {
  return canMoveTask(from, to);
}

export function isClosed(status: HandoffStatus): boolean {
  return CLOSED.includes(status);
}

function withDeadline(def: Handoff, p: HandoffProgress): HandoffProgress {
  if (p.deadline) return p;
  const from = def.deadline.from === 'sent' ? p.sentOn : p.receivedOn;
  if (!from) return p;
  const deadline = dueAfter(from, def.deadline);
  return { ...p, deadline };
}

/** Whether the handoff's clock runs in hours (priority urgent, `deadline.hours`) rather than days. */
export function isHourly(def: Handoff): boolean {
  return def.deadline.hours !== undefined;
}

/** `sentAt`: the instant it was sent, which an urgent handoff's hours count from. */
export function startHandoff(def: Handoff, key: string, sentOn: IsoDate, sentAt?: string): { state: HandoffProgress; effects: HandoffEffect[] } {
  const base: HandoffProgress = { key, handoff: def.id, status: 'requested', sentOn, remindersSent: 0, escalationsSent: 0, today: sentOn, history: [{ on: sentOn, status: 'requested' }] };
  if (isHourly(def)) {
    const from = sentAt ?? `${sentOn}T00:00:00.000Z`;
    const deadlineAt = new Date(Date.parse(from) + def.deadline.hours! * 3_600_000).toISOString();
    return { state: { ...base, sentAt: from, deadlineAt, deadline: osloDate(deadlineAt) }, effects: [{ type: 'create-request', on: sentOn }] };
  }
  const state = withDeadline(def, base);
  return { state, effects: [{ type: 'create-request', on: sentOn }] };
}

/** An urgent handoff's reminders (before the deadline instant) and escalations (after it), as instants in ms. */
function hourlyTimes(def: Handoff, s: HandoffProgress): { reminders: number[]; escalations: number[] } | undefined {
  if (!s.deadlineAt || s.decidedOn || s.closedOn || s.held) return undefined;
  const at = Date.parse(s.deadlineAt);
  return { reminders: def.reminders.map((b) => at - offsetMs(b)).sort((a, b) => a - b), escalations: def.escalation.map((e) => at + offsetMs(e.after)) };
}

/** Reminders and escalations of an urgent handoff due by `nowMs` (its clock runs in hours: EPDS item 10 needs assessment the same day). */
export function advanceHourly(def: Handoff, state: HandoffProgress, nowMs: number): { state: HandoffProgress; effects: HandoffEffect[] } {
  let next: HandoffProgress = { ...state, today: osloDate(nowMs) };
  const effects: HandoffEffect[] = [];
  const times = hourlyTimes(def, next);
  if (!times) return { state: next, effects };
  const deadline = next.deadlineAt!;
  while (next.remindersSent < times.reminders.length && times.reminders[next.remindersSent] <= nowMs) {
    effects.push({ type: 'reminder', key: `${state.key}-reminder-${next.remindersSent + 1}`, on: osloDate(times.reminders[next.remindersSent]), deadline });
    next = { ...next, remindersSent: next.remindersSent + 1 };
  }
  while (next.escalationsSent < times.escalations.length && times.escalations[next.escalationsSent] <= nowMs) {
    const step = def.escalation[next.escalationsSent];
    effects.push({ type: 'escalate', key: `${state.key}-escalation-${next.escalationsSent + 1}`, on: osloDate(times.escalations[next.escalationsSent]), to: step.to, deadline });
    next = { ...next, escalationsSent: next.escalationsSent + 1 };
  }
  return { state: next, effects };
}

/** The next instant (ms) an urgent handoff has a reminder or escalation to send, if any. */
export function nextHourlyWakeUp(def: Handoff, state: HandoffProgress): number | undefined {
  const times = hourlyTimes(def, state);
  if (!times) return undefined;
  return [...times.reminders.slice(state.remindersSent), ...times.escalations.slice(state.escalationsSent)].sort((a, b) => a - b)[0];
}

/** The receiving organisation moved its Task. Throws HandoffInputError for a move the Task state machine does not allow. */
export function applyTaskStatus(def: Handoff, state: HandoffProgress, status: HandoffStatus, date: IsoDate): { state: HandoffProgress; effects: HandoffEffect[] } {
  const problem = taskMoveProblem(state.status, status);
  if (problem) throw new HandoffInputError(problem);
  if (status === state.status) return { state, effects: [] };
  let next: HandoffProgress = { ...state, status, history: [...state.history, { on: date, status }] };
  // The receiver (or coordinator) moved a held Task on: the hold is over.
  if (next.held && status !== 'on-hold') delete next.held;
  // Anything past 'requested' means the receiver has the request.
  if (!next.receivedOn) next.receivedOn = date;
  if (!next.decidedOn && ['accepted', 'rejected', 'in-progress', 'completed'].includes(status)) next.decidedOn = date;
  if (status === 'accepted') next.reached = { ...next.reached, accepted: [...(next.reached?.accepted ?? []), date] };
  if (isClosed(status)) next.closedOn = date;
  next = withDeadline(def, next);
  const effects: HandoffEffect[] = [{ type: 'status', status, on: date }];
  if (status === 'rejected') effects.push({ type: 'rejected', key: `${state.key}-rejected`, on: date });
  return { state: next, effects };
}

/** Reminders and escalations due by `today`, while no decision has been made. */
export function advanceHandoff(def: Handoff, state: HandoffProgress, today: IsoDate): { state: HandoffProgress; effects: HandoffEffect[] } {
  const effects: HandoffEffect[] = [];
  let next: HandoffProgress = { ...withDeadline(def, state), today };
  const unopened = unopenedDue(def, next);
  if (unopened && unopened <= today) {
    effects.push({ type: 'escalate-unopened', key: `${state.key}-unopened`, on: unopened, to: def.unopened!.to, sentOn: next.sentOn, ...(next.deadline ? { deadline: next.deadline } : {}) });
    next = { ...next, unopenedEscalated: true };
  }
  const deadline = next.deadline;
  if (!deadline || next.decidedOn || next.closedOn || next.held) return { state: next, effects };
  const reminders = reminderDates(def, deadline);
  while (next.remindersSent < reminders.length && reminders[next.remindersSent] <= today) {
    effects.push({ type: 'reminder', key: `${state.key}-reminder-${next.remindersSent + 1}`, on: reminders[next.remindersSent], deadline });
    next = { ...next, remindersSent: next.remindersSent + 1 };
  }
  const escalations = escalationDates(def, deadline);
  while (next.escalationsSent < escalations.length && escalations[next.escalationsSent] <= today) {
    const step = def.escalation[next.escalationsSent];
    effects.push({ type: 'escalate', key: `${state.key}-escalation-${next.escalationsSent + 1}`, on: escalations[next.escalationsSent], to: step.to, deadline });
    next = { ...next, escalationsSent: next.escalationsSent + 1 };
  }
  return { state: next, effects };
}

export function nextHandoffWakeUp(def: Handoff, state: HandoffProgress): IsoDate | undefined {
  const s = withDeadline(def, state);
  const unopened = unopenedDue(def, s);
  if (!s.deadline || s.decidedOn || s.closedOn || s.held) return unopened;
  const pending = [...reminderDates(def, s.deadline).slice(s.remindersSent), ...escalationDates(def, s.deadline).slice(s.escalationsSent), ...(unopened ? [unopened] : [])];
  return pending.filter((d) => d > s.today).sort()[0] ?? pending.sort()[0];
}

/**
 * The day a request nobody has opened is escalated (the definition's
 * `unopened`): counted from when it was sent, while its Task is still
 * `requested`; undefined when there is none to send.
 */
function unopenedDue(def: Handoff, s: HandoffProgress): IsoDate | undefined {
  if (!def.unopened || s.unopenedEscalated || s.status !== 'requested' || s.held || s.closedOn) return undefined;
  return dueAfter(s.sentOn, def.unopened);
}

/**
 * The handoff's legal basis was withdrawn or refused (the family's consent)
 * before the receiver decided: the Task goes on hold, so the receiver does
 * not act on it, and the deadline stops. A handoff already decided is the
 * receiver's own patient relationship and is left alone, as is a closed one.
 */
export function holdHandoff(state: HandoffProgress, reason: string, date: IsoDate): { state: HandoffProgress; effects: HandoffEffect[] } {
  if (state.held || state.decidedOn || isClosed(state.status) || taskMoveProblem(state.status, 'on-hold')) return { state, effects: [] };
  const next: HandoffProgress = { ...state, status: 'on-hold', held: reason, history: [...state.history, { on: date, status: 'on-hold' }] };
  return { state: next, effects: [{ type: 'hold-request', on: date, reason }] };
}

function reminderDates(def: Handoff, deadline: IsoDate): IsoDate[] {
  return def.reminders.map((before) => applyOffset(deadline, { n: -before.n, unit: before.unit })).sort();
}

/** Escalation steps count from the day after the deadline: the deadline day itself is still on time. */
function escalationDates(def: Handoff, deadline: IsoDate): IsoDate[] {
  return def.escalation.map((step) => applyOffset(addDays(deadline, 1), step.after));
}

/**
 * The receiver reports a step of the treatment path (Task.businessStatus),
 * e.g. first attendance, clinical decision, an evaluation: the pakkeforløp
 * times run from these (Helsedirektoratet, pakkeforløp gravide og rusmidler).
 */
export function applyBusinessStatus(def: Handoff, state: HandoffProgress, step: string, date: IsoDate): HandoffProgress {
  const known = new Set(['first-attendance', ...def.milestones.map((m) => m.id)]);
  if (!known.has(step)) throw new HandoffInputError(`'${step}' is not a step of ${def.id}; known: ${[...known].join(', ')}`);
  const days = state.reached?.[step] ?? [];
  if (days.includes(date)) return state;
  return { ...state, reached: { ...state.reached, [step]: [...days, date].sort() } };
}

/** Each milestone's next due date, while the handoff is open: counted from the step it follows (and, if it repeats, from its own last time). */
export function milestonesDue(def: Handoff, state: HandoffProgress): { milestone: string; due: IsoDate }[] {
  if (state.closedOn) return [];
  // 'sent': e.g. barnevernsloven §2-2's three months run from the report's receipt, which is when it was sent.
  const last = (id: string) => (id === 'sent' ? state.sentOn : state.reached?.[id]?.at(-1));
  const due: { milestone: string; due: IsoDate }[] = [];
  for (const m of def.milestones) {
    const after = last(m.after);
    if (!after) continue;
    const own = last(m.id);
    if (!m.repeat && own && own >= after) continue;
    const base = m.repeat && own && own > after ? own : after;
    due.push({ milestone: m.id, due: dueAfter(base, m.within) });
  }
  return due;
}

/** Milestones whose due day has passed: told to the coordinator once per due date. */
export function advanceMilestones(def: Handoff, state: HandoffProgress, today: IsoDate): { state: HandoffProgress; effects: HandoffEffect[] } {
  const effects: HandoffEffect[] = [];
  let escalated = state.milestonesEscalated ?? [];
  for (const { milestone, due } of milestonesDue(def, state)) {
    const mark = `${milestone}@${due}`;
    if (due < today && !escalated.includes(mark)) {
      escalated = [...escalated, mark];
      effects.push({ type: 'milestone-overdue', key: `${state.key}-${milestone}-${due}`, on: addDays(due, 1), milestone, due });
    }
  }
  return { state: { ...state, milestonesEscalated: escalated }, effects };
}

export function nextMilestoneWakeUp(def: Handoff, state: HandoffProgress): IsoDate | undefined {
  const escalated = state.milestonesEscalated ?? [];
  return milestonesDue(def, state)
    .filter(({ milestone, due }) => !escalated.includes(`${milestone}@${due}`))
    .map(({ due }) => addDays(due, 1))
    .sort()[0];
}

