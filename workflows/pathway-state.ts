/**
 * The family pathway as a pure state machine: a plain, serialisable state and
 * functions that take it (with the compiled plan, an event and today's date)
 * to the next state and the effects to carry out. No clock, no I/O, no
 * Temporal: the workflow is a thin loop around these functions, and they are
 * unit-tested on their own.
 *
 * Every number (weeks, windows, thresholds, deadlines) comes from the plan;
 * this file only knows what the definition format means.
 */
import { addDays, daysBetween, type IsoDate } from '../pathways/calendar';
import { applyOffset, bandOf, dueAfter, resolve, type Action, type Anchors, type Condition, type PathwayEventName, type Plan, type PlanStep } from '../pathways/plan';
import type { HandoffStatus, LegalBasis, PathwayEffect, PathwayEvent, ReferralIn } from './pathway-events';

export type StepStatus =
  /** Its anchor is not known yet (e.g. a postnatal contact during pregnancy). */
  | 'waiting'
  | 'planned'
  /** Its window closed without it being held. */
  | 'overdue'
  | 'done'
  /** An intervention with sessions under way. */
  | 'active'
  | 'completed'
  | 'cancelled'
  /** Stopped before it was finished (an intervention when the pathway closed). */
  | 'stopped'
  /** The phase it belongs to ended first, or its window closed before the family joined or while paused. */
  | 'not-applicable';

export interface StepState {
  /** Unique in the family: the step id, with -2, -3... when a rule schedules the step again. */
  key: string;
  step: string;
  status: StepStatus;
  target?: IsoDate;
  earliest?: IsoDate;
  latest?: IsoDate;
  /** Interventions: first session and end (from `until`, when known). */
  start?: IsoDate;
  end?: IsoDate;
  sessions?: number;
  /** The day of the rule event a rule-triggered step is anchored to. */
  eventDate?: IsoDate;
  doneOn?: IsoDate;
  encounter?: string;
  noShows?: number;
  result?: { score: number; band?: string; resource?: string };
  reason?: string;
}

export interface HandoffState {
  key: string;
  handoff: string;
  status: HandoffStatus;
  openedOn: IsoDate;
  rule?: string;
  updatedOn: IsoDate;
  /** A referral another system wrote: its ServiceRequest. */
  serviceRequest?: string;
  /** Why it is on hold: its legal basis is withdrawn or refused. */
  held?: string;
  /** Held before it was sent: nothing was shared, and it is sent when the basis is given again. */
  notSent?: ReferralIn | true;
}

export interface CheckState {
  key: string;
  check: string;
  owner: string;
  openedOn: IsoDate;
  due: IsoDate;
  status: 'open' | 'completed';
  escalated?: boolean;
}

export interface TimelineEntry {
  on: IsoDate;
  what: string;
  step?: string;
  rule?: string;
  /** A result or contact that fulfilled no planned step (an extra screening or contact). */
  unplanned?: true;
}

export interface PathwayState {
  familyId: string;
  /** url|version of the definition the family is pinned to. */
  canonical: string;
  anchors: Anchors;
  status: 'active' | 'paused' | 'closed';
  phase?: string;
  /** The last day the state was brought up to. */
  today: IsoDate;
  steps: StepState[];
  handoffs: HandoffState[];
  checks: CheckState[];
  consent: Partial<Record<LegalBasis, 'active' | 'rejected' | 'withdrawn'>>;
  closed?: { exit: string; on: IsoDate; carePlanStatus: 'completed' | 'revoked' };
  timeline: TimelineEntry[];
  /** Ids of events already applied (bounded), for exactly-once delivery. */
  applied: string[];
  /** Counter for effect keys, so each notification has a stable identity across retries. */
  seq: number;
  /**
   * Set by the workflow for runs recorded before results and contacts were
   * matched by window (issue #29): they keep matching the nearest open step,
   * so their recorded histories replay unchanged.
   */
  legacyMatching?: boolean;
}

export interface Transition {
  state: PathwayState;
  effects: PathwayEffect[];
}

/** A request the machine refuses: bad input for this family now. Updates report it to the caller. */
export class PathwayInputError extends Error {
  override readonly name = 'PathwayInputError';
}

const APPLIED_KEPT = 500;
const OPEN: StepStatus[] = ['waiting', 'planned', 'overdue', 'active'];

type Ctx = { plan: Plan; state: PathwayState; effects: PathwayEffect[] };

export function startPathway(plan: Plan, familyId: string, anchors: Anchors, today: IsoDate): Transition {
  if (anchors.dueDate === undefined && anchors.birth === undefined) throw new PathwayInputError('A family needs a due date or a birth date to start a pathway');
  const state: PathwayState = {
    familyId,
    canonical: plan.canonical,
    anchors: { ...anchors },
    status: 'active',
    today: anchors.enrolment,
    steps: [],
    handoffs: [],
    checks: [],
    consent: {},
    timeline: [{ on: anchors.enrolment, what: `Enrolled in ${plan.title} (${plan.version})` }],
    applied: [],
    seq: 0,
  };
  const ctx: Ctx = { plan, state, effects: [{ type: 'care-plan' }] };
  for (const step of plan.steps) if (step.trigger === 'plan') state.steps.push({ key: step.id, step: step.id, status: 'waiting' });
  replan(ctx);
  // Windows that closed before the family joined are not the family's to miss.
  for (const s of state.steps) {
    if (s.status === 'planned' && s.latest && s.latest < anchors.enrolment) Object.assign(s, { status: 'not-applicable', reason: 'before enrolment' });
  }
  // Enrolled after the birth: the pregnancy steps do not apply.
  enterPhase(ctx, phaseOn(plan, state.anchors, anchors.enrolment), anchors.enrolment);
  fire(ctx, 'enrolled', { date: anchors.enrolment });
  advanceTo(ctx, today);
  return finish(ctx);
}

/** Bring the state up to `today`: windows that closed, sessions, phases, exits at a time. */
export function advance(plan: Plan, state: PathwayState, today: IsoDate): Transition {
  const ctx: Ctx = { plan, state: clone(state), effects: [] };
  advanceTo(ctx, today);
  return finish(ctx);
}

/** Apply one event (after bringing the state up to `today`). Throws PathwayInputError for input that makes no sense now. */
export function applyEvent(plan: Plan, state: PathwayState, event: PathwayEvent, today: IsoDate): Transition {
  validateEvent(plan, state, event, today);
  const ctx: Ctx = { plan, state: clone(state), effects: [] };
  if (event.eventId && state.applied.includes(event.eventId)) return { state, effects: [] };
  advanceTo(ctx, today);
  if (event.eventId) ctx.state.applied = [...ctx.state.applied, event.eventId].slice(-APPLIED_KEPT);
  if (ctx.state.status !== 'closed') handle(ctx, event);
  advanceTo(ctx, today);
  return finish(ctx);
}

/** The checks an update's validator runs before anything changes. */
export function validateEvent(plan: Plan, state: PathwayState, event: PathwayEvent, today: IsoDate): void {
  // A second delivery of an applied event is not an error: it changes nothing (applyEvent).
  if (event.eventId && state.applied.includes(event.eventId)) return;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(event.date ?? '')) throw new PathwayInputError(`date must be YYYY-MM-DD, got '${event.date}'`);
  if (event.date > today) throw new PathwayInputError(`date ${event.date} is in the future (today is ${today})`);
  if (state.status === 'closed') throw new PathwayInputError(`The pathway closed on ${state.closed?.on} (${state.closed?.exit}); it takes no more events`);
  switch (event.type) {
    case 'due-date-changed':
      if (state.anchors.birth) throw new PathwayInputError('The birth is registered; the due date can no longer change');
      if (!/^\d{4}-\d{2}-\d{2}$/.test(event.dueDate ?? '')) throw new PathwayInputError(`dueDate must be YYYY-MM-DD, got '${event.dueDate}'`);
      break;
    case 'birth-registered':
    case 'pregnancy-ended':
      if (state.anchors.birth) throw new PathwayInputError(`The birth was already registered (${state.anchors.birth})`);
      if (event.date < state.anchors.enrolment && event.type === 'pregnancy-ended') throw new PathwayInputError('The pregnancy cannot end before the family was enrolled');
      break;
    case 'screening-recorded': {
      const instrument = plan.instruments[event.instrument];
      if (!instrument) throw new PathwayInputError(`Unknown instrument '${event.instrument}'; this pathway knows ${Object.keys(plan.instruments).join(', ')}`);
      if (!Number.isInteger(event.score) || event.score < instrument.min || event.score > instrument.max) {
        throw new PathwayInputError(`${instrument.title} scores run from ${instrument.min} to ${instrument.max}; got ${event.score}`);
      }
      if (event.step && !state.legacyMatching) linkedStep(plan, state, event.step, (p) => (p.kind === 'screening' && p.instrument === event.instrument ? undefined : `it is not a ${instrument.title} screening`));
      break;
    }
    case 'encounter-recorded':
      if (!event.step && !event.code) throw new PathwayInputError('An encounter needs the step it belongs to or its code');
      if (event.step && state.legacyMatching && !state.steps.some((s) => s.key === event.step || s.step === event.step)) throw new PathwayInputError(`No step '${event.step}' in this family's plan`);
      if (event.step && !state.legacyMatching) linkedStep(plan, state, event.step, (p) => (p.kind === 'screening' ? 'it is a screening, recorded by its result, not by an encounter' : undefined));
      break;
    case 'resumed':
      if (state.status !== 'paused') throw new PathwayInputError('The pathway is not paused');
      break;
    case 'paused':
      if (state.status === 'paused') throw new PathwayInputError('The pathway is already paused');
      break;
    case 'handoff-updated':
      if (!state.handoffs.some((h) => h.key === event.key)) throw new PathwayInputError(`No handoff '${event.key}' in this family's pathway`);
      break;
    case 'referral-received': {
      const def = plan.handoffs[event.handoff];
      if (!def) throw new PathwayInputError(`No handoff '${event.handoff}' in this pathway; it knows ${Object.keys(plan.handoffs).join(', ')}`);
      if (!def.startedBy.includes('referral')) throw new PathwayInputError(`Handoff '${event.handoff}' is not started by referrals (startedBy: ${def.startedBy.join(', ')})`);
      if (!/^[a-z0-9][a-z0-9-]{0,80}$/.test(event.key ?? '')) throw new PathwayInputError(`key must be lower-case letters, digits and hyphens, got '${event.key}'`);
      if (!/^ServiceRequest\/[A-Za-z0-9\-.]{1,64}$/.test(event.serviceRequest ?? '')) throw new PathwayInputError(`serviceRequest must be a reference such as ServiceRequest/123, got '${event.serviceRequest}'`);
      if (!/^Organization\/[A-Za-z0-9\-.]{1,64}$/.test(event.performer ?? '')) throw new PathwayInputError(`performer must be an Organization reference, got '${event.performer}'`);
      break;
    }
  }
}

/** The first day something changes without an event: a window closes, a session starts or ends, a phase begins, an exit comes due. */
export function nextWakeUp(plan: Plan, state: PathwayState): IsoDate | undefined {
  if (state.status === 'closed') return undefined;
  const days: IsoDate[] = [];
  for (const s of state.steps) {
    if (s.status === 'planned' && s.latest) days.push(addDays(s.latest, 1));
    if (s.status === 'planned' && s.start) days.push(s.start);
    if (s.status === 'active' && s.end) days.push(s.end);
  }
  for (const phase of plan.phases) {
    const start = resolve(state.anchors, phase.start);
    if (start && start > state.today) days.push(start);
  }
  for (const exit of plan.exits) {
    const at = exit.at ? resolve(state.anchors, exit.at) : undefined;
    if (at) days.push(at);
  }
  for (const c of state.checks) if (c.status === 'open') days.push(addDays(c.due, 1));
  const future = days.filter((d) => d > state.today).sort();
  return future[0];
}

// ---------------------------------------------------------------- internals

function clone(state: PathwayState): PathwayState {
  return JSON.parse(JSON.stringify(state)) as PathwayState;
}

function finish(ctx: Ctx): Transition {
  // One CarePlan update per transition is enough, at the end (it shows the final state).
  const carePlan = ctx.effects.some((e) => e.type === 'care-plan');
  const effects = ctx.effects.filter((e) => e.type !== 'care-plan');
  return { state: ctx.state, effects: carePlan ? [...effects, { type: 'care-plan' }] : effects };
}

function note(ctx: Ctx, on: IsoDate, what: string, extra: Partial<TimelineEntry> = {}) {
  ctx.state.timeline.push({ on, what, ...extra });
}

function stepOf(ctx: Ctx, s: StepState): PlanStep {
  const step = ctx.plan.steps.find((p) => p.id === s.step);
  if (!step) throw new Error(`Step '${s.step}' is not in ${ctx.plan.canonical}`);
  return step;
}

export function phaseOn(plan: Plan, anchors: Anchors, day: IsoDate): string | undefined {
  let current: string | undefined;
  for (const phase of plan.phases) {
    const start = resolve(anchors, phase.start);
    if (start !== undefined && start <= day) current = phase.id;
  }
  return current;
}

/** (Re)compute the dates of every open step from the anchors; planned encounters follow. */
function replan(ctx: Ctx) {
  const { state } = ctx;
  for (const s of state.steps) {
    if (!['waiting', 'planned', 'overdue', 'active'].includes(s.status)) continue;
    const step = stepOf(ctx, s);
    if (s.status === 'active' && step.kind !== 'intervention') continue;
    const before = { target: s.target, earliest: s.earliest, latest: s.latest, start: s.start, end: s.end };
    if (step.kind === 'intervention') {
      // A running intervention keeps its start; its end can move (e.g. "until 12 months" once the birth is known).
      if (s.status !== 'active') s.start = resolve(state.anchors, step.start, s.eventDate);
      const start = s.start;
      s.end = step.until ? resolve(state.anchors, step.until, s.eventDate) : undefined;
      s.sessions ??= 0;
      if (start !== undefined && s.status === 'waiting') s.status = 'planned';
    } else {
      const target = resolve(state.anchors, step.at, s.eventDate);
      if (target === undefined) continue;
      const base = resolve(state.anchors, { anchor: step.at.anchor, offset: { n: 0, unit: 'd' } }, s.eventDate)!;
      s.target = target;
      s.earliest = applyOffset(base, step.window.earliest);
      s.latest = applyOffset(base, step.window.latest);
      if (s.status === 'waiting') s.status = 'planned';
      // A corrected anchor can reopen a window that had closed.
      if (s.status === 'overdue' && s.latest >= state.today) Object.assign(s, { status: 'planned' });
    }
    const changed = before.target !== s.target || before.earliest !== s.earliest || before.latest !== s.latest || before.start !== s.start || before.end !== s.end;
    if (changed) {
      ctx.effects.push({ type: 'care-plan' });
      if (step.kind !== 'intervention' && step.plannedEncounter && s.earliest && s.latest) {
        ctx.effects.push({ type: 'planned-encounter', step: s.key, start: s.earliest, end: s.latest, status: 'planned' });
      }
    }
  }
}

function advanceTo(ctx: Ctx, today: IsoDate) {
  const { state, plan } = ctx;
  if (state.status === 'closed') return;
  stepDay(ctx, state.today);
  // Walk the days on which something happens, in order, so events fire in the order they occur.
  for (let guard = 0; guard < 10_000; guard++) {
    const next = nextWakeUp(plan, state);
    const day = next !== undefined && next <= today ? next : today;
    if (day < state.today) break;
    state.today = day;
    stepDay(ctx, day);
    if ((state.status as PathwayState['status']) === 'closed' || day === today) break;
  }
}

/** Everything due on `day`. */
function stepDay(ctx: Ctx, day: IsoDate) {
  const { state, plan } = ctx;
  for (const exit of plan.exits) {
    const at = exit.at ? resolve(state.anchors, exit.at) : undefined;
    if (at !== undefined && at <= day) return close(ctx, exit.id, day);
  }
  const phase = phaseOn(plan, state.anchors, day);
  if (phase !== state.phase) enterPhase(ctx, phase, day);
  for (const s of state.steps) {
    const step = stepOf(ctx, s);
    if (step.kind === 'intervention') {
      if (s.status === 'planned' && s.start && s.start <= day) {
        s.status = 'active';
        ctx.effects.push({ type: 'care-plan' });
        note(ctx, day, `${step.title} started`, { step: s.key });
      }
      if (s.status === 'active' && s.end && s.end <= day) completeIntervention(ctx, s, day, 'its end date came');
      continue;
    }
    if (s.status === 'planned' && s.latest && s.latest < day) {
      if (state.status === 'paused') {
        Object.assign(s, { status: 'not-applicable', reason: 'window passed while the pathway was paused' });
        ctx.effects.push({ type: 'care-plan' });
        continue;
      }
      s.status = 'overdue';
      ctx.effects.push({ type: 'care-plan' });
      note(ctx, day, `${step.title} is overdue (window ${s.earliest} to ${s.latest})`, { step: s.key });
      fire(ctx, 'contact-overdue', { date: day, step: s });
    }
  }
  for (const c of state.checks) {
    if (c.status === 'open' && c.due < day && !c.escalated) {
      c.escalated = true;
      note(ctx, day, `${plan.checks[c.check]?.title ?? c.check} is overdue`);
      ctx.effects.push({ type: 'notify-coordinator', key: `${c.key}-overdue`, on: day, text: `${plan.checks[c.check]?.title ?? c.check} was due ${c.due} and is not recorded as done.` });
    }
  }
}

function enterPhase(ctx: Ctx, phase: string | undefined, day: IsoDate) {
  const { state, plan } = ctx;
  const order = plan.phases.map((p) => p.id);
  state.phase = phase;
  ctx.effects.push({ type: 'care-plan' });
  if (phase === undefined) return;
  note(ctx, day, `Phase ${plan.phases.find((p) => p.id === phase)?.title ?? phase} began`);
  // Steps of a phase that has ended whose window has not opened no longer apply (e.g. the
  // week-40 consultation after an early birth); one whose window is open still counts.
  for (const s of state.steps) {
    const step = stepOf(ctx, s);
    const notYetOpen = s.status === 'waiting' || (s.status === 'planned' && (s.earliest ?? s.start ?? day) > day);
    if (step.phase && order.indexOf(step.phase) < order.indexOf(phase) && notYetOpen) {
      Object.assign(s, { status: 'not-applicable', reason: `phase ${step.phase} ended` });
      if (step.kind !== 'intervention' && step.plannedEncounter && s.earliest && s.latest) {
        ctx.effects.push({ type: 'planned-encounter', step: s.key, start: s.earliest, end: s.latest, status: 'cancelled' });
      }
    }
  }
  fire(ctx, 'phase-entered', { date: day });
}

function completeIntervention(ctx: Ctx, s: StepState, day: IsoDate, why: string) {
  s.status = 'completed';
  s.doneOn = day;
  ctx.effects.push({ type: 'care-plan' });
  note(ctx, day, `${stepOf(ctx, s).title} completed (${s.sessions ?? 0} sessions; ${why})`, { step: s.key });
}

function close(ctx: Ctx, exitId: string, day: IsoDate) {
  const { state, plan } = ctx;
  const exit = plan.exits.find((e) => e.id === exitId)!;
  for (const s of state.steps) {
    if (!OPEN.includes(s.status)) continue;
    const step = stepOf(ctx, s);
    if (step.kind !== 'intervention' && step.plannedEncounter && s.earliest && s.latest) {
      ctx.effects.push({ type: 'planned-encounter', step: s.key, start: s.earliest, end: s.latest, status: 'cancelled' });
    }
    Object.assign(s, { status: s.status === 'active' ? 'stopped' : 'cancelled', reason: exit.title });
  }
  state.status = 'closed';
  state.closed = { exit: exit.id, on: day, carePlanStatus: exit.carePlanStatus };
  note(ctx, day, `Pathway closed: ${exit.title}`);
  ctx.effects.push({ type: 'closed', on: day, exit: exit.id, carePlanStatus: exit.carePlanStatus }, { type: 'care-plan' });
}

interface FireContext {
  date: IsoDate;
  step?: StepState;
  instrument?: string;
  band?: string;
  items?: Record<string, number>;
  status?: string;
  basis?: string;
  consent?: string;
}

function matches(when: Condition | undefined, f: FireContext, phase: string | undefined): boolean {
  if (!when) return true;
  if (when.instrument && when.instrument !== f.instrument) return false;
  if (when.band && (!f.band || !when.band.includes(f.band))) return false;
  if (when.item && !((f.items?.[when.item.linkId] ?? -Infinity) >= when.item.min)) return false;
  if (when.step && (!f.step || !when.step.includes(f.step.step))) return false;
  if (when.status && when.status !== f.status) return false;
  if (when.phase && (!phase || !when.phase.includes(phase))) return false;
  if (when.basis && when.basis !== f.basis) return false;
  if (when.consent && when.consent !== f.consent) return false;
  return true;
}

/** Run the rules that listen for `on`, in definition order. */
function fire(ctx: Ctx, on: PathwayEventName, f: FireContext) {
  for (const rule of ctx.plan.rules) {
    if (rule.on !== on || !matches(rule.when, f, ctx.state.phase)) continue;
    if (ctx.state.status === 'closed') return;
    note(ctx, f.date, `Rule ${rule.title ?? rule.id}`, { rule: rule.id, ...(f.step ? { step: f.step.key } : {}) });
    for (const action of rule.do) act(ctx, action, rule.id, f);
  }
}

function act(ctx: Ctx, action: Action, ruleId: string, f: FireContext) {
  const { state, plan } = ctx;
  const key = () => `${ruleId}-${++state.seq}`;
  if ('schedule' in action) {
    const open = state.steps.find((s) => s.step === action.schedule && OPEN.includes(s.status));
    if (open) return note(ctx, f.date, `${action.schedule} is already planned`, { rule: ruleId, step: open.key });
    const count = state.steps.filter((s) => s.step === action.schedule).length;
    state.steps.push({ key: count === 0 ? action.schedule : `${action.schedule}-${count + 1}`, step: action.schedule, status: 'waiting', eventDate: f.date });
    replan(ctx);
  } else if ('cancel' in action) {
    for (const s of state.steps) if (s.step === action.cancel && OPEN.includes(s.status)) Object.assign(s, { status: s.status === 'active' ? 'stopped' : 'cancelled', reason: `rule ${ruleId}` });
    ctx.effects.push({ type: 'care-plan' });
  } else if ('handoff' in action) {
    const open = state.handoffs.find((h) => h.handoff === action.handoff && !['completed', 'cancelled', 'rejected', 'failed'].includes(h.status));
    if (open) return note(ctx, f.date, `Handoff ${action.handoff} is already open`, { rule: ruleId });
    const handoffKey = `${action.handoff}-${state.handoffs.filter((h) => h.handoff === action.handoff).length + 1}`;
    openHandoff(ctx, action.handoff, handoffKey, f.date, { rule: ruleId });
  } else if ('notifyCoordinator' in action) {
    ctx.effects.push({ type: 'notify-coordinator', key: key(), on: f.date, text: action.notifyCoordinator, rule: ruleId, ...(f.step ? { step: f.step.key } : {}) });
  } else if ('openCheck' in action) {
    openCheck(ctx, action.openCheck, plan.checks[action.openCheck].owner, f.date);
  } else if ('exit' in action) {
    close(ctx, action.exit, f.date);
  }
}

/** The family's answer on a legal basis that stops sharing under it. */
const WITHHELD: ReadonlyArray<string> = ['withdrawn', 'rejected'];
/**
 * Bases that are duties, not consents: the report to child welfare under
 * helsepersonelloven §33 is made whatever the family answers, so a refusal
 * or withdrawal never holds it (issue #23).
 */
const NOT_CONSENT: ReadonlyArray<LegalBasis> = ['section-33'];

/**
 * Opens a handoff, behind its legal basis: when the family has withdrawn or
 * refused the basis the definition names (e.g. consent), nothing is sent:
 * the handoff is held (on-hold, visible to the coordinator, who is told)
 * and is sent when the basis is given again.
 */
function openHandoff(ctx: Ctx, handoff: string, key: string, date: IsoDate, from: { rule?: string; referral?: ReferralIn }) {
  const { state, plan } = ctx;
  const def = plan.handoffs[handoff];
  const title = def?.title ?? handoff;
  const extra = from.rule ? { rule: from.rule } : {};
  const answer = def ? state.consent[def.legalBasis] : undefined;
  const h: HandoffState = { key, handoff, status: 'requested', openedOn: date, updatedOn: date, ...extra, ...(from.referral ? { serviceRequest: from.referral.serviceRequest } : {}) };
  state.handoffs.push(h);
  ctx.effects.push({ type: 'care-plan' });
  if (def && answer && WITHHELD.includes(answer) && !NOT_CONSENT.includes(def.legalBasis)) {
    Object.assign(h, { status: 'on-hold', held: `legal basis ${def.legalBasis} ${answer}`, notSent: from.referral ?? true });
    note(ctx, date, `Handoff held, not sent: ${title} (legal basis ${def.legalBasis} ${answer})`, extra);
    ctx.effects.push({ type: 'notify-coordinator', key: `${key}-held`, on: date, text: `"${title}" was not sent: its legal basis (${def.legalBasis}) is ${answer}. It is sent if the family gives it again.`, ...extra });
    return;
  }
  note(ctx, date, `${from.referral ? 'Referral received' : 'Handoff started'}: ${title}`, extra);
  ctx.effects.push({ type: 'start-handoff', key, on: date, handoff, ...extra, ...(from.referral ? { referral: from.referral } : {}) });
}

/** The family answered on a legal basis: handoffs under it not yet decided are held, or, held before they were sent, sent now. */
function legalBasisChanged(ctx: Ctx, basis: LegalBasis, answer: 'active' | 'rejected' | 'withdrawn', date: IsoDate) {
  const { state, plan } = ctx;
  if (NOT_CONSENT.includes(basis)) {
    if (WITHHELD.includes(answer)) note(ctx, date, `The family ${answer} ${basis}, which is a duty, not a consent (helsepersonelloven §33): reports under it go on`);
    return;
  }
  for (const h of state.handoffs) {
    const def = plan.handoffs[h.handoff];
    if (def?.legalBasis !== basis) continue;
    if (WITHHELD.includes(answer) && ['requested', 'received'].includes(h.status) && !h.held) {
      Object.assign(h, { status: 'on-hold', held: `legal basis ${basis} ${answer}`, updatedOn: date });
      note(ctx, date, `Handoff on hold: ${def.title} (legal basis ${basis} ${answer})`);
      ctx.effects.push({ type: 'hold-handoff', key: h.key, on: date, reason: `The legal basis for sharing (${basis}) was ${answer} on ${date}; do not act on this request.` }, { type: 'care-plan' });
    } else if (answer === 'active' && h.notSent) {
      const referral = h.notSent === true ? undefined : h.notSent;
      Object.assign(h, { status: 'requested', updatedOn: date });
      delete h.held;
      delete h.notSent;
      note(ctx, date, `Handoff sent, its legal basis given again: ${def.title}`);
      ctx.effects.push({ type: 'start-handoff', key: h.key, on: date, handoff: h.handoff, ...(h.rule ? { rule: h.rule } : {}), ...(referral ? { referral } : {}) }, { type: 'care-plan' });
    }
  }
}

function openCheck(ctx: Ctx, checkId: string, owner: string, day: IsoDate) {
  const check = ctx.plan.checks[checkId];
  const key = `${checkId}-${ctx.state.checks.filter((c) => c.check === checkId).length + 1}`;
  const due = dueAfter(day, check.deadline);
  ctx.state.checks.push({ key, check: checkId, owner, openedOn: day, due, status: 'open' });
  note(ctx, day, `Opened: ${check.title} (due ${due})`);
  ctx.effects.push({ type: 'open-check', key, on: day, check: checkId, owner, due }, { type: 'care-plan' });
}

function exitFor(ctx: Ctx, on: 'pregnancy-ended' | 'moved' | 'consent-withdrawn' | 'ended', day: IsoDate) {
  const exit = ctx.plan.exits.find((e) => e.on === on);
  if (exit) close(ctx, exit.id, day);
  else note(ctx, day, `No exit is defined for ${on}; the pathway continues`);
}

/**
 * The step an explicit link names (a planned Encounter Forløp wrote, or a
 * result `basedOn` the CarePlan activity): by its key, or by its step id
 * (the open or done instance). A link wins over dates, but a step it cannot
 * fulfil is refused with the reason (issue #29).
 */
function linkedStep(plan: Plan, state: PathwayState, key: string, unfit: (step: PlanStep) => string | undefined): StepState {
  const s = state.steps.find((x) => x.key === key) ?? state.steps.find((x) => x.step === key && (OPEN.includes(x.status) || x.status === 'done'));
  if (!s) throw new PathwayInputError(`No step '${key}' in this family's plan${state.steps.length ? `; its steps are ${state.steps.map((x) => x.key).join(', ')}` : ''}`);
  const step = plan.steps.find((p) => p.id === s.step);
  const why = step ? unfit(step) : `it is not in ${plan.canonical}`;
  if (why) throw new PathwayInputError(`The link names step '${s.key}', which this cannot fulfil: ${why}`);
  if (!OPEN.includes(s.status) && s.status !== 'done' && s.status !== 'completed') {
    throw new PathwayInputError(`The link names step '${s.key}', which is ${s.status}${s.reason ? ` (${s.reason})` : ''}; record it without the link to keep it as an unplanned entry`);
  }
  return s;
}

/** The day a phase begins for this family, or undefined while its anchor is not known (e.g. the birth). */
function phaseStart(plan: Plan, anchors: Anchors, phase: string): IsoDate | undefined {
  const p = plan.phases.find((x) => x.id === phase);
  return p ? resolve(anchors, p.start) : undefined;
}

/**
 * Whether a result or contact on `date` can fulfil an open step it does not
 * name: the step's phase has begun by then, and the date falls in its window
 * (an intervention: its run) or within the definition's `matchWithin`
 * tolerance around it. A step whose window lies in the future beyond that
 * is not consumed by an early or extra contact (issue #29).
 */
function inReach(ctx: Ctx, s: StepState, date: IsoDate): boolean {
  const step = stepOf(ctx, s);
  if (step.phase) {
    const begun = phaseStart(ctx.plan, ctx.state.anchors, step.phase);
    if (begun === undefined || begun > date) return false;
  }
  const tolerance = step.matchWithin ?? { n: 0, unit: 'd' as const };
  const from = step.kind === 'intervention' ? s.start : s.earliest;
  const to = step.kind === 'intervention' ? s.end : s.latest;
  if (from === undefined || date < applyOffset(from, { n: -tolerance.n, unit: tolerance.unit })) return false;
  return to === undefined || date <= applyOffset(to, tolerance);
}

/** The instance of a contact or screening an encounter or result belongs to: the one it names, else the open one whose window (with tolerance) holds its date. */
function matchStep(ctx: Ctx, date: IsoDate, pick: (step: PlanStep) => boolean, explicit?: string): StepState | undefined {
  const { state } = ctx;
  if (state.legacyMatching) return legacyMatchStep(ctx, date, pick, explicit);
  if (explicit) return linkedStep(ctx.plan, state, explicit, () => undefined);
  const candidates = state.steps.filter((s) => OPEN.includes(s.status) && pick(stepOf(ctx, s)) && inReach(ctx, s, date));
  return candidates.sort((a, b) => distance(a, date) - distance(b, date))[0];
}

const distance = (s: StepState, date: IsoDate) => {
  if (s.earliest && s.latest && s.earliest <= date && date <= s.latest) return 0;
  const anchor = s.target ?? s.start;
  return anchor ? Math.abs(daysBetween(anchor, date)) : Number.MAX_SAFE_INTEGER;
};

/** Before issue #29: the nearest open step of the kind, whatever its phase or window. Kept for runs recorded with it (PathwayState.legacyMatching). */
function legacyMatchStep(ctx: Ctx, date: IsoDate, pick: (step: PlanStep) => boolean, explicit?: string): StepState | undefined {
  const { state } = ctx;
  if (explicit) return state.steps.find((s) => s.key === explicit) ?? state.steps.find((s) => s.step === explicit && (OPEN.includes(s.status) || s.status === 'done'));
  const candidates = state.steps.filter((s) => OPEN.includes(s.status) && pick(stepOf(ctx, s)));
  return candidates.sort((a, b) => distance(a, date) - distance(b, date))[0];
}

function handle(ctx: Ctx, event: PathwayEvent) {
  const { state, plan } = ctx;
  switch (event.type) {
    case 'due-date-changed': {
      const previous = state.anchors.dueDate;
      state.anchors.dueDate = event.dueDate;
      note(ctx, event.date, `Due date changed from ${previous ?? 'none'} to ${event.dueDate}`);
      replan(ctx);
      fire(ctx, 'due-date-changed', { date: event.date });
      return;
    }
    case 'birth-registered': {
      state.anchors.birth = event.date;
      note(ctx, event.date, `Birth registered (${event.date}${state.anchors.dueDate ? `, due date ${state.anchors.dueDate}` : ''})`);
      replan(ctx);
      const phase = phaseOn(plan, state.anchors, event.date);
      if (phase !== state.phase) enterPhase(ctx, phase, event.date);
      fire(ctx, 'birth-registered', { date: event.date });
      return;
    }
    case 'pregnancy-ended':
      note(ctx, event.date, 'The pregnancy ended without a birth');
      fire(ctx, 'pregnancy-ended', { date: event.date });
      return exitFor(ctx, 'pregnancy-ended', event.date);
    case 'moved':
      note(ctx, event.date, 'The family moved to another municipality');
      fire(ctx, 'moved', { date: event.date });
      return exitFor(ctx, 'moved', event.date);
    case 'ended':
      note(ctx, event.date, `Ended by the coordinator${event.reason ? `: ${event.reason}` : ''}`);
      return exitFor(ctx, 'ended', event.date);
    case 'paused':
      state.status = 'paused';
      note(ctx, event.date, `Paused${event.reason ? `: ${event.reason}` : ''}`);
      ctx.effects.push({ type: 'care-plan' });
      return;
    case 'resumed':
      state.status = 'active';
      note(ctx, event.date, 'Resumed');
      ctx.effects.push({ type: 'care-plan' });
      return;
    case 'consent-changed':
      state.consent[event.basis] = event.status;
      note(ctx, event.date, `Legal basis ${event.basis}: ${event.status}`);
      legalBasisChanged(ctx, event.basis, event.status, event.date);
      fire(ctx, 'consent-changed', { date: event.date, basis: event.basis, consent: event.status });
      if (event.basis === 'consent' && event.status === 'withdrawn') exitFor(ctx, 'consent-withdrawn', event.date);
      return;
    case 'encounter-recorded': {
      const s = matchStep(ctx, event.date, (p) => (event.code ? p.code.system === event.code.system && p.code.code === event.code.code : false), event.step);
      if (!s && state.legacyMatching) return note(ctx, event.date, `Encounter ${event.status} that matches no open step${event.code ? ` (${event.code.code})` : ''}`);
      if (!s) {
        // An extra contact (issue #29): on the timeline, the planned steps stay open, and rules that do not name a step still fire.
        const kind = plan.steps.find((p) => p.kind !== 'screening' && event.code && p.code.system === event.code.system && p.code.code === event.code.code);
        note(ctx, event.date, `Unplanned contact ${event.status}: ${kind?.code.display ?? kind?.title ?? event.code?.code ?? 'no code'}`, { unplanned: true });
        ctx.effects.push({ type: 'care-plan' });
        fire(ctx, 'encounter-recorded', { date: event.date, status: event.status });
        return;
      }
      const step = stepOf(ctx, s);
      if (event.status === 'finished') {
        if (step.kind === 'intervention') {
          s.sessions = (s.sessions ?? 0) + 1;
          if (s.status === 'planned') s.status = 'active';
          note(ctx, event.date, `${step.title}: session ${s.sessions}${step.count ? ` of ${step.count}` : ''}`, { step: s.key });
          if (step.count !== undefined && s.sessions >= step.count) completeIntervention(ctx, s, event.date, 'course finished');
        } else {
          Object.assign(s, { status: 'done', doneOn: event.date, ...(event.encounter ? { encounter: event.encounter } : {}) });
          note(ctx, event.date, `${step.title} held`, { step: s.key });
        }
      } else if (event.status === 'no-show') {
        s.noShows = (s.noShows ?? 0) + 1;
        note(ctx, event.date, `${step.title}: the family did not come`, { step: s.key });
      } else {
        note(ctx, event.date, `${step.title}: appointment cancelled`, { step: s.key });
      }
      ctx.effects.push({ type: 'care-plan' });
      fire(ctx, 'encounter-recorded', { date: event.date, step: s, status: event.status });
      return;
    }
    case 'screening-recorded': {
      const instrument = plan.instruments[event.instrument];
      const band = bandOf(instrument, event.score);
      const s = matchStep(ctx, event.date, (p) => p.kind === 'screening' && p.instrument === event.instrument, event.step);
      if (s) {
        Object.assign(s, { status: 'done', doneOn: event.date, result: { score: event.score, ...(band ? { band: band.id } : {}), ...(event.resource ? { resource: event.resource } : {}) } });
      }
      const unplanned = !s && !state.legacyMatching;
      note(ctx, event.date, `${instrument.title}: ${event.score} (${band?.title ?? 'no band'})${unplanned ? ', unplanned' : ''}`, s ? { step: s.key } : unplanned ? { unplanned: true } : {});
      ctx.effects.push({ type: 'care-plan' });
      fire(ctx, 'screening-recorded', { date: event.date, ...(s ? { step: s } : {}), instrument: event.instrument, band: band?.id, items: event.items ?? {} });
      return;
    }
    case 'referral-received': {
      if (state.handoffs.some((h) => h.key === event.key)) return note(ctx, event.date, `Referral ${event.serviceRequest} is already a handoff`);
      const referral: ReferralIn = { serviceRequest: event.serviceRequest, performer: event.performer, ...(event.requester ? { requester: event.requester } : {}) };
      return openHandoff(ctx, event.handoff, event.key, event.date, { referral });
    }
    case 'handoff-updated': {
      const h = state.handoffs.find((x) => x.key === event.key)!;
      if (h.held && event.status !== 'on-hold') delete h.held;
      h.status = event.status;
      h.updatedOn = event.date;
      note(ctx, event.date, `Handoff ${plan.handoffs[h.handoff]?.title ?? h.handoff}: ${event.status}`);
      ctx.effects.push({ type: 'care-plan' });
      const def = plan.handoffs[h.handoff];
      // e.g. helsepersonelloven §10a: when a parent enters specialist care, the children's needs are assessed.
      if (event.status === 'accepted' && def?.checkOnAccept) openCheck(ctx, def.checkOnAccept, def.to, event.date);
      // Discharge: the handoff back to the municipality, so follow-up continues.
      if (event.status === 'completed' && def?.returnHandoff) act(ctx, { handoff: def.returnHandoff }, `return-${h.key}`, { date: event.date });
      return;
    }
  }
}
