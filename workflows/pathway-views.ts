/**
 * What clients read of a family's pathway (queries and update answers): pure
 * functions of the plan and the state, so the coordinator API and the
 * dashboard see the same thing the workflow does.
 */
import type { IsoDate } from '../pathways/calendar';
import type { Plan } from '../pathways/plan';
import type { CheckState, HandoffState, PathwayState, StepState, TimelineEntry } from './pathway-state';

export interface StepView extends StepState {
  title: string;
  kind: 'contact' | 'screening' | 'intervention';
  deliveredBy: string;
  /** Interventions: the next session date, when one is expected. */
  nextSession?: IsoDate;
}

export interface PathwayView {
  familyId: string;
  canonical: string;
  status: PathwayState['status'];
  phase?: { id: string; title: string };
  today: IsoDate;
  anchors: PathwayState['anchors'];
  closed?: PathwayState['closed'];
  nextDue: StepView[];
  overdue: StepView[];
  openHandoffs: HandoffState[];
  openChecks: CheckState[];
}

export function stepView(plan: Plan, s: StepState): StepView {
  const step = plan.steps.find((p) => p.id === s.step)!;
  const view: StepView = { ...s, title: step.title, kind: step.kind, deliveredBy: step.deliveredBy };
  if (step.kind === 'intervention' && (s.status === 'active' || s.status === 'planned') && s.start) {
    // Sessions fall every `every` from the start; the next is the first not yet held.
    const n = s.sessions ?? 0;
    const unit = step.every.unit === 'w' ? 7 : step.every.unit === 'd' ? 1 : undefined;
    if (unit !== undefined) {
      const next = new Date(Date.parse(`${s.start}T00:00:00Z`) + n * step.every.n * unit * 86_400_000).toISOString().slice(0, 10);
      if (!s.end || next < s.end) view.nextSession = next;
    }
  }
  return view;
}

/** Planned contacts and screenings in date order, and interventions with a session ahead. */
export function nextDue(plan: Plan, state: PathwayState, limit = 5): StepView[] {
  return state.steps
    .filter((s) => s.status === 'planned' || s.status === 'active')
    .map((s) => stepView(plan, s))
    .filter((v) => v.target ?? v.nextSession ?? v.start)
    .sort((a, b) => (a.target ?? a.nextSession ?? a.start!).localeCompare(b.target ?? b.nextSession ?? b.start!))
    .slice(0, limit);
}

export function overdue(plan: Plan, state: PathwayState): StepView[] {
  return state.steps.filter((s) => s.status === 'overdue').map((s) => stepView(plan, s));
}

export function openHandoffs(state: PathwayState): HandoffState[] {
  return state.handoffs.filter((h) => !['completed', 'cancelled', 'rejected', 'failed'].includes(h.status));
}

export function timeline(state: PathwayState): TimelineEntry[] {
  return state.timeline;
}

export function pathwayView(plan: Plan, state: PathwayState): PathwayView {
  const phase = plan.phases.find((p) => p.id === state.phase);
  return {
    familyId: state.familyId,
    canonical: state.canonical,
    status: state.status,
    ...(phase ? { phase: { id: phase.id, title: phase.title } } : {}),
    today: state.today,
    anchors: state.anchors,
    ...(state.closed ? { closed: state.closed } : {}),
    nextDue: nextDue(plan, state),
    overdue: overdue(plan, state),
    openHandoffs: openHandoffs(state),
    openChecks: state.checks.filter((c) => c.status === 'open'),
  };
}
