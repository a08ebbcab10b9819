/**
 * One workflow per family, from enrolment to the child's third birthday (or
 * another exit). The body is a thin loop: the pure state machine in
 * ./pathway-state.ts decides, timers wake it on the days something comes
 * due, and one activity per step brings the family's FHIR resources in line
 * with the effects. It continues as new at every phase boundary and when the
 * history grows large, carrying its state.
 */
import * as wf from '@temporalio/workflow';
import { effectsActivities, waitForDayOr, workflowToday } from './workflow-time';
import type { Anchors, Plan } from '../pathways/plan';
import { handoffWorkflow } from './handoff';
import { adoptPlanUpdate, EVENT_SIGNALS, handoffWorkflowId, holdHandoffSignal, currentPhaseQuery, nextDueQuery, openHandoffsQuery, overdueQuery, pathwayQuery, pathwayStateQuery, recordEventUpdate, timelineQuery } from './messages';
import type { FamilyRefs, PathwayEffect, PathwayEvent } from './pathway-events';
import { advance, applyEvent, nextWakeUp, startPathway, validateEvent, type PathwayState } from './pathway-state';
import { nextDue, openHandoffs, overdue, pathwayView } from './pathway-views';
import { migrate, validateMigration } from './pathway-migration';

const { applyPathwayEffects } = effectsActivities;

export interface FamilyPathwayInput {
  familyId: string;
  /** The compiled definition the family is pinned to (plan.canonical = url|version). */
  plan: Plan;
  refs: FamilyRefs;
  anchors: Anchors;
  /** Set by continue-as-new: the state so far. */
  state?: PathwayState;
  /** Above this many history events the run continues as new (Temporal's own limit is 51,200). */
  historyLimit?: number;
}

export interface FamilyPathwayResult {
  familyId: string;
  exit: string;
  closedOn: string;
  carePlanStatus: 'completed' | 'revoked';
}

const DEFAULT_HISTORY_LIMIT = 10_000;
/** Patch id: handoffs as child workflows (instead of a request written by the effects activity). */
export const HANDOFFS_AS_CHILD_WORKFLOWS = 'handoffs-as-child-workflows';
/** Patch id: a completed handoff with a returnHandoff starts it. */
export const RETURN_HANDOFFS = 'return-handoffs';
/** Patch id: the family can be moved to another version of its definition (adoptPlanUpdate). */
export const PLAN_MIGRATION = 'plan-migration';
/** Patch id: a result or contact fulfils a step only inside its window (with the definition's tolerance), never one of a phase not begun (issue #29). */
export const MATCH_IN_WINDOW = 'match-in-window';

export async function familyPathway(input: FamilyPathwayInput): Promise<FamilyPathwayResult> {
  const { familyId, refs } = input;
  // The definition the family runs on; a migration (adoptPlanUpdate) replaces it.
  let plan = input.plan;
  const today = workflowToday;
  let state: PathwayState;
  const effects: PathwayEffect[] = [];
  if (input.state) {
    state = input.state;
  } else {
    const started = startPathway(plan, familyId, input.anchors, today());
    state = started.state;
    effects.push(...started.effects);
  }
  // Runs recorded before matching by window keep the nearest-step matching, so their histories replay.
  if (wf.patched(MATCH_IN_WINDOW)) {
    if (state.legacyMatching) state = { ...state, legacyMatching: false };
  } else {
    state = { ...state, legacyMatching: true };
  }
  const startPhase = state.phase;
  // A function, because handlers change `state` between awaits (TypeScript would narrow a plain comparison).
  const isClosed = () => state.status === 'closed';
  // Updates answer once their effects are applied: `applied` counts events in, `flushed` what the FHIR side has seen.
  let applied = 0;
  let flushed = 0;

  const apply = (event: PathwayEvent) => {
    const t = applyEvent(plan, state, event, today());
    state = t.state;
    effects.push(...t.effects);
    applied++;
  };

  for (const [signal, type] of EVENT_SIGNALS) {
    wf.setHandler(signal, (payload: object) => {
      const event = { ...payload, type } as PathwayEvent;
      try {
        apply(event);
      } catch (error) {
        // A signal cannot be answered: record why it was not applied, for the coordinator to see.
        if ((error as Error).name !== 'PathwayInputError') throw error;
        state = { ...state, timeline: [...state.timeline, { on: today(), what: `Not applied (${type}): ${(error as Error).message}` }] };
        wf.log.warn('pathway event rejected', { type, reason: (error as Error).message });
      }
    });
  }
  wf.setHandler(
    recordEventUpdate,
    async (event) => {
      apply(event);
      const mine = applied;
      await wf.condition(() => flushed >= mine);
      return pathwayView(plan, state);
    },
    {
      validator: (event) => {
        try {
          validateEvent(plan, state, event, today());
        } catch (error) {
          throw wf.ApplicationFailure.create({ type: (error as Error).name, message: (error as Error).message, nonRetryable: true });
        }
      },
    },
  );
  wf.setHandler(
    adoptPlanUpdate,
    async ({ plan: next, decidedBy, reason }) => {
      // Marks histories that took a migration; recorded ones without it replay as before.
      wf.patched(PLAN_MIGRATION);
      let moved = migrate(plan, next, state, today());
      if (moved.retire.length > 0) {
        // First, on the old plan: the planned Encounters of the steps the new version removes are cancelled.
        effects.push(...moved.retire);
        applied++;
        const retired = applied;
        await wf.condition(() => flushed >= retired);
        // Events may have come in meanwhile: the move is computed again from the state now.
        moved = migrate(plan, next, state, today());
        if (moved.diff.blocked) throw wf.ApplicationFailure.create({ type: 'PathwayInputError', message: `Cannot move to ${next.canonical}: ${moved.diff.blocked}`, nonRetryable: true });
      }
      state = { ...moved.state!, timeline: [...moved.state!.timeline, { on: today(), what: `Migration decided by ${decidedBy}: ${reason}` }] };
      plan = next;
      effects.push(...moved.effects);
      applied++;
      const mine = applied;
      await wf.condition(() => flushed >= mine);
      return moved.diff;
    },
    {
      validator: ({ plan: next }) => {
        try {
          validateMigration(plan, next, state, today());
        } catch (error) {
          throw wf.ApplicationFailure.create({ type: (error as Error).name, message: (error as Error).message, nonRetryable: true });
        }
      },
    },
  );
  wf.setHandler(pathwayQuery, () => pathwayView(plan, state));
  wf.setHandler(currentPhaseQuery, () => pathwayView(plan, state).phase);
  wf.setHandler(nextDueQuery, (limit) => nextDue(plan, state, limit ?? 5));
  wf.setHandler(overdueQuery, () => overdue(plan, state));
  wf.setHandler(openHandoffsQuery, () => openHandoffs(state));
  wf.setHandler(timelineQuery, () => state.timeline);
  wf.setHandler(pathwayStateQuery, () => state);

  const flush = async () => {
    while (effects.length > 0) {
      let batch = effects.splice(0, effects.length);
      // Handoffs run as child workflows (their own deadlines and escalation); families
      // started before this change keep creating the request in the effects activity.
      if (batch.some((e) => e.type === 'start-handoff') && wf.patched(HANDOFFS_AS_CHILD_WORKFLOWS)) {
        for (const e of batch) {
          if (e.type !== 'start-handoff') continue;
          // Return handoffs (discharge back to the municipality) came later than handoff workflows.
          if (e.rule?.startsWith('return-') && !wf.patched(RETURN_HANDOFFS)) continue;
          await wf.startChild(handoffWorkflow, {
            workflowId: handoffWorkflowId(familyId, e.key),
            args: [{ familyId, canonical: plan.canonical, key: e.key, handoff: plan.handoffs[e.handoff], refs, sentOn: e.on, ...(e.referral ? { referral: e.referral } : {}) }],
            // A handoff outlives the run that started it (continue-as-new) and even the pathway.
            parentClosePolicy: 'ABANDON',
          });
        }
        batch = batch.filter((e) => e.type !== 'start-handoff');
      }
      // The family withdrew a handoff's legal basis: its own workflow puts the Task on hold.
      for (const e of batch) {
        if (e.type !== 'hold-handoff') continue;
        try {
          await wf.getExternalWorkflowHandle(handoffWorkflowId(familyId, e.key)).signal(holdHandoffSignal, { reason: e.reason, date: e.on });
        } catch (error) {
          // A handoff from before handoff workflows, or one that has ended: nothing to hold.
          wf.log.info('handoff not reachable', { key: e.key, reason: (error as Error).message });
        }
      }
      batch = batch.filter((e) => e.type !== 'hold-handoff');
      const upTo = applied;
      const { timeline: _t, applied: _a, ...snapshot } = state;
      await applyPathwayEffects({ familyId, canonical: plan.canonical, refs, snapshot, effects: batch });
      flushed = upTo;
    }
    flushed = applied;
  };

  for (;;) {
    await flush();
    if (isClosed()) break;
    const info = wf.workflowInfo();
    if (state.phase !== startPhase || info.continueAsNewSuggested || info.historyLength > (input.historyLimit ?? DEFAULT_HISTORY_LIMIT)) {
      // Handlers finish first, and what they caused is applied, so nothing is lost between runs.
      await wf.condition(wf.allHandlersFinished);
      await flush();
      if (!isClosed()) await wf.continueAsNew<typeof familyPathway>({ ...input, plan, anchors: state.anchors, state });
      break;
    }
    const wake = nextWakeUp(plan, state);
    if (!(await waitForDayOr(wake, () => effects.length > 0))) {
      const t = advance(plan, state, today());
      state = t.state;
      effects.push(...t.effects);
    }
  }
  await wf.condition(wf.allHandlersFinished);
  await flush();
  const closed = state.closed!;
  return { familyId, exit: closed.exit, closedOn: closed.on, carePlanStatus: closed.carePlanStatus };
}
