/**
 * Moving a running family to another version of its definition (`forlop
 * pathway migrate`): what would change, and the state it would have. Pure,
 * like ./pathway-state.ts, whose exported functions it uses: the new
 * version's steps are planned from the family's own anchors as if it had
 * been enrolled on it, then what the family has lived keeps its place:
 * steps held, screened, cancelled or missed keep their status (with the new
 * dates), rule-planned steps the new version still has are kept, handoffs,
 * checks, consent and the timeline are kept whole. A family whose state
 * cannot move is refused with the reason: a step under way (an intervention
 * with sessions, or a contact whose window is open) that the new version
 * removes, or an open handoff whose definition it drops. `retire` are the
 * effects to carry out before the move (on the old plan), `effects` after it.
 */
import type { IsoDate } from '../pathways/calendar';
import type { Plan } from '../pathways/plan';
import type { PathwayEffect } from './pathway-events';
import { PathwayInputError, startPathway, type PathwayState, type StepState } from './pathway-state';

export interface MigrationDiff {
  from: string;
  to: string;
  /** Step keys the new version plans that the family did not have. */
  added: string[];
  /** Step keys the family had that the new version does not (with their status then). */
  removed: { key: string; status: string }[];
  /** Steps whose dates move: target (or start) before and after. */
  redated: { key: string; from?: IsoDate; to?: IsoDate }[];
  /** Handoff keys carried over unchanged (each runs on in its own workflow). */
  handoffsKept: string[];
  /** Why the family cannot move now; absent when it can. */
  blocked?: string;
}

const CLOSED_HANDOFF = ['rejected', 'completed', 'cancelled', 'failed'];

const dateOf = (s: StepState) => s.target ?? s.start;

/** The diff of moving `state` from `from` to `to` today, and the state and effects if it can move. */
export function migrate(from: Plan, to: Plan, state: PathwayState, today: IsoDate): { diff: MigrationDiff; state?: PathwayState; retire: PathwayEffect[]; effects: PathwayEffect[] } {
  const diff: MigrationDiff = { from: from.canonical, to: to.canonical, added: [], removed: [], redated: [], handoffsKept: state.handoffs.map((h) => h.key) };
  const refuse = (why: string) => ({ diff: { ...diff, blocked: why }, retire: [], effects: [] });
  if (state.canonical !== from.canonical) return refuse(`the family runs on ${state.canonical}, not ${from.canonical}`);
  if (state.status === 'closed') return refuse('the pathway has closed');
  const fresh = startPathway(to, state.familyId, state.anchors, today).state;
  const inNew = new Set(to.steps.map((s) => s.id));
  const old = new Map(state.steps.map((s) => [s.key, s]));
  const steps: StepState[] = [];
  for (const planned of fresh.steps) {
    const before = old.get(planned.key);
    if (!before) {
      // Added after its window closed: not the family's to have missed.
      steps.push(planned.status === 'overdue' ? { ...planned, status: 'not-applicable', reason: `added by ${to.version} after its window closed` } : planned);
      diff.added.push(planned.key);
      continue;
    }
    const kept: StepState = { ...before, target: planned.target, earliest: planned.earliest, latest: planned.latest, start: before.status === 'active' ? before.start : planned.start, end: planned.end };
    if (dateOf(before) !== dateOf(kept) || before.earliest !== kept.earliest || before.latest !== kept.latest) diff.redated.push({ key: before.key, from: dateOf(before), to: dateOf(kept) });
    steps.push(kept);
  }
  const freshKeys = new Set(fresh.steps.map((s) => s.key));
  for (const s of state.steps) {
    if (freshKeys.has(s.key)) continue;
    // Planned by a rule (an EPDS follow-up, a course of sessions): kept while the new version still has the step.
    if (inNew.has(s.step) && to.steps.find((p) => p.id === s.step)?.trigger === 'rule') {
      steps.push(s);
      continue;
    }
    diff.removed.push({ key: s.key, status: s.status });
    const underWay = s.status === 'active' || (s.status === 'planned' && s.earliest !== undefined && s.latest !== undefined && s.earliest <= today && today <= s.latest);
    if (underWay) return refuse(`step ${s.key} is under way (${s.status === 'active' ? 'sessions have begun' : `its window ${s.earliest}..${s.latest} is open`}) and ${to.canonical} removes it`);
  }
  for (const h of state.handoffs) {
    if (!CLOSED_HANDOFF.includes(h.status) && !to.handoffs[h.handoff]) return refuse(`handoff ${h.key} is open (${h.status}) and ${to.canonical} has no handoff '${h.handoff}'`);
  }
  if (to.phases.length && state.phase && !to.phases.some((p) => p.id === state.phase)) return refuse(`${to.canonical} has no phase '${state.phase}', the family's current one`);
  // Planned Encounters of removed steps are cancelled while the family is still on `from`
  // (the effects activity finds a step in the plan the family runs on).
  const retire: PathwayEffect[] = [];
  for (const r of diff.removed) {
    const s = old.get(r.key)!;
    const step = from.steps.find((p) => p.id === s.step);
    if (step && step.kind !== 'intervention' && step.plannedEncounter && s.status === 'planned' && s.earliest && s.latest) retire.push({ type: 'planned-encounter', step: s.key, start: s.earliest, end: s.latest, status: 'cancelled' });
  }
  const effects: PathwayEffect[] = [{ type: 'care-plan' }];
  for (const s of steps) {
    const step = to.steps.find((p) => p.id === s.step);
    const moved = diff.added.includes(s.key) || diff.redated.some((r) => r.key === s.key);
    if (moved && step && step.kind !== 'intervention' && step.plannedEncounter && s.status === 'planned' && s.earliest && s.latest) effects.push({ type: 'planned-encounter', step: s.key, start: s.earliest, end: s.latest, status: 'planned' });
  }
  const summary = `Moved from ${from.canonical} to ${to.canonical}: ${diff.added.length} steps added, ${diff.removed.length} removed, ${diff.redated.length} re-dated`;
  return { diff, state: { ...state, canonical: to.canonical, steps, timeline: [...state.timeline, { on: today, what: summary }] }, retire, effects };
}

/** For the workflow's update validator: throws when the family cannot move (the caller learns why). */
export function validateMigration(from: Plan, to: Plan, state: PathwayState, today: IsoDate): MigrationDiff {
  const { diff } = migrate(from, to, state, today);
  if (diff.blocked) throw new PathwayInputError(`Cannot move to ${to.canonical}: ${diff.blocked}`);
  return diff;
}
