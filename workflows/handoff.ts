/**
 * One handoff between services, as a child workflow of the family's
 * pathway: it asks the receiving service to act (ServiceRequest + Task),
 * follows the Task's status as the receiver moves it, keeps the legal
 * deadline with reminders before and escalations after, and tells the
 * family's workflow of every status, so the family's state shows its open
 * handoffs. The decisions are in ./handoff-state.ts.
 */
import * as wf from '@temporalio/workflow';
import { effectsActivities, waitForDayOr, workflowToday } from './workflow-time';
import type { Handoff } from '../pathways/plan';
import { advanceHandoff, advanceHourly, advanceMilestones, applyBusinessStatus, applyTaskStatus, holdHandoff, isClosed, isHourly, nextHandoffWakeUp, nextHourlyWakeUp, nextMilestoneWakeUp, startHandoff, type HandoffEffect, type HandoffProgress } from './handoff-state';
import { osloStartOfDay } from '../pathways/calendar';
import { familyWorkflowId, handoffQuery, handoffUpdatedSignal, holdHandoffSignal, taskStatusSignal } from './messages';
import type { FamilyRefs, ReferralIn } from './pathway-events';

const { applyHandoffEffects } = effectsActivities;

/** Patch id: a rejected request is reported to the coordinator and the referrer at once (issue #21). */
export const REJECTION_NOTICES = 'rejection-notices';

export interface HandoffWorkflowInput {
  familyId: string;
  canonical: string;
  key: string;
  handoff: Handoff;
  refs: FamilyRefs;
  sentOn: string;
  /** A referral another system wrote: the Task is made for its ServiceRequest (no ServiceRequest of our own). */
  referral?: ReferralIn;
}

export async function handoffWorkflow(input: HandoffWorkflowInput): Promise<{ key: string; status: HandoffProgress['status'] }> {
  const today = workflowToday;
  const def = input.handoff;
  // Urgent handoffs count hours from the moment they start (the family's workflow starts them as the event is applied).
  const hourly = isHourly(def);
  let { state, effects } = startHandoff(def, input.key, input.sentOn, hourly ? new Date(Date.now()).toISOString() : undefined) as { state: HandoffProgress; effects: HandoffEffect[] };
  const seen = new Set<string>();
  const family = wf.getExternalWorkflowHandle(familyWorkflowId(input.familyId));

  wf.setHandler(taskStatusSignal, ({ status, date, step, eventId }) => {
    if (eventId && seen.has(eventId)) return;
    if (eventId) seen.add(eventId);
    try {
      const t = applyTaskStatus(def, state, status, date);
      state = t.state;
      effects = [...effects, ...t.effects];
      if (step) state = applyBusinessStatus(def, state, step, date);
    } catch (error) {
      if ((error as Error).name !== 'HandoffInputError') throw error;
      wf.log.warn('task status refused', { key: input.key, reason: (error as Error).message });
    }
  });
  wf.setHandler(holdHandoffSignal, ({ reason, date }) => {
    const t = holdHandoff(state, reason, date);
    state = t.state;
    effects = [...effects, ...t.effects];
  });
  wf.setHandler(handoffQuery, () => state);

  for (;;) {
    while (effects.length > 0) {
      const batch = effects;
      effects = [];
      // Handoffs recorded before rejection notices closed silently on a rejection; they still do on replay.
      const silent = batch.some((e) => e.type === 'rejected') && !wf.patched(REJECTION_NOTICES);
      const written = batch.filter((e) => e.type !== 'status' && !(silent && e.type === 'rejected'));
      if (written.length) await applyHandoffEffects({ familyId: input.familyId, canonical: input.canonical, refs: input.refs, key: input.key, handoff: def.id, effects: written, ...(input.referral ? { referral: input.referral } : {}) });
      for (const e of batch) {
        if (e.type !== 'status') continue;
        try {
          await family.signal(handoffUpdatedSignal, { key: input.key, status: e.status, date: e.on, eventId: `handoff:${input.key}:${e.status}:${e.on}` });
        } catch (error) {
          // The family's pathway has closed; the handoff itself still runs to its end.
          wf.log.info('family pathway not reachable', { key: input.key, reason: (error as Error).message });
        }
      }
    }
    if (isClosed(state.status)) return { key: input.key, status: state.status };
    if (hourly) {
      // Its clock runs in hours: wake at the next reminder or escalation instant (or a milestone's day).
      const milestone = nextMilestoneWakeUp(def, state);
      const at = [nextHourlyWakeUp(def, state), milestone === undefined ? undefined : osloStartOfDay(milestone)].filter((t): t is number => t !== undefined).sort((a, b) => a - b)[0];
      const woken = at === undefined ? await wf.condition(() => effects.length > 0).then(() => true) : at > Date.now() ? await wf.condition(() => effects.length > 0, at - Date.now()) : false;
      if (!woken) {
        const t = advanceHourly(def, state, Date.now());
        const m = advanceMilestones(def, t.state, t.state.today);
        state = m.state;
        effects = [...effects, ...t.effects, ...m.effects];
      }
      continue;
    }
    const wake = [nextHandoffWakeUp(def, state), nextMilestoneWakeUp(def, state)].filter((d): d is string => d !== undefined).sort()[0];
    if (!(await waitForDayOr(wake, () => effects.length > 0))) {
      const t = advanceHandoff(def, state, today());
      const m = advanceMilestones(def, t.state, today());
      state = m.state;
      effects = [...effects, ...t.effects, ...m.effects];
    }
  }
}
