/**
 * The family pathway workflow's signals, updates and queries, declared once
 * and shared by the workflow and every client (coordinator API, event
 * router, tests). Signals are for systems that report what happened and do
 * not wait; updates validate first and answer with the resulting pathway.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { HandoffStatus, PathwayEvent } from './pathway-events';
import type { HandoffProgress } from './handoff-state';
import type { PathwayState, TimelineEntry, HandoffState } from './pathway-state';
import type { PathwayView, StepView } from './pathway-views';
import type { MigrationDiff } from './pathway-migration';
import type { Plan } from '../pathways/plan';

type Payload<T extends PathwayEvent['type']> = Omit<Extract<PathwayEvent, { type: T }>, 'type'>;

export const FAMILY_PATHWAY_WORKFLOW = 'familyPathway';

/** Workflow ids carry only the pseudonymous family id, never a national id or a name. */
export function familyWorkflowId(familyId: string): string {
  return `family-${familyId}`;
}

export const dueDateChangedSignal = defineSignal<[Payload<'due-date-changed'>]>('dueDateChanged');
export const birthRegisteredSignal = defineSignal<[Payload<'birth-registered'>]>('birthRegistered');
export const pregnancyEndedSignal = defineSignal<[Payload<'pregnancy-ended'>]>('pregnancyEnded');
export const encounterRecordedSignal = defineSignal<[Payload<'encounter-recorded'>]>('encounterRecorded');
export const screeningRecordedSignal = defineSignal<[Payload<'screening-recorded'>]>('screeningRecorded');
export const consentChangedSignal = defineSignal<[Payload<'consent-changed'>]>('consentChanged');
export const pauseSignal = defineSignal<[Payload<'paused'>]>('pause');
export const resumeSignal = defineSignal<[Payload<'resumed'>]>('resume');
export const movedSignal = defineSignal<[Payload<'moved'>]>('moved');
export const endPathwaySignal = defineSignal<[Payload<'ended'>]>('endPathway');
export const handoffUpdatedSignal = defineSignal<[Payload<'handoff-updated'>]>('handoffUpdated');
export const referralReceivedSignal = defineSignal<[Payload<'referral-received'>]>('referralReceived');

/** Each signal and the event type it carries. */
export const EVENT_SIGNALS = [
  [dueDateChangedSignal, 'due-date-changed'],
  [birthRegisteredSignal, 'birth-registered'],
  [pregnancyEndedSignal, 'pregnancy-ended'],
  [encounterRecordedSignal, 'encounter-recorded'],
  [screeningRecordedSignal, 'screening-recorded'],
  [consentChangedSignal, 'consent-changed'],
  [pauseSignal, 'paused'],
  [resumeSignal, 'resumed'],
  [movedSignal, 'moved'],
  [endPathwaySignal, 'ended'],
  [handoffUpdatedSignal, 'handoff-updated'],
  [referralReceivedSignal, 'referral-received'],
] as const;

/**
 * Any pathway event, validated before it is applied (a bad one is rejected
 * and leaves no trace in history); answers with the pathway after the
 * event and after the FHIR resources have been brought in step.
 */
export const recordEventUpdate = defineUpdate<PathwayView, [PathwayEvent]>('recordEvent');

/**
 * Move the family to another version of its definition (`forlop pathway
 * migrate`): validated first (a family whose state cannot move is refused
 * with the reason, nothing changed), applied between workflow tasks, and
 * answered with what changed once the FHIR resources show it.
 */
export const adoptPlanUpdate = defineUpdate<MigrationDiff, [{ plan: Plan; decidedBy: string; reason: string }]>('adoptPlan');

export const pathwayQuery = defineQuery<PathwayView>('pathway');
export const currentPhaseQuery = defineQuery<{ id: string; title: string } | undefined>('currentPhase');
export const nextDueQuery = defineQuery<StepView[], [number?]>('nextDue');
export const overdueQuery = defineQuery<StepView[]>('overdue');
export const openHandoffsQuery = defineQuery<HandoffState[]>('openHandoffs');
export const timelineQuery = defineQuery<TimelineEntry[]>('timeline');
/** The raw state, for tools and tests. */
export const pathwayStateQuery = defineQuery<PathwayState>('pathwayState');

// ---------------------------------------------------------------- handoffs

export const HANDOFF_WORKFLOW = 'handoffWorkflow';

/** A handoff's workflow id: the family's pseudonymous id and the handoff's key. */
export function handoffWorkflowId(familyId: string, key: string): string {
  return `handoff-${familyId}-${key}`;
}

/** The receiving organisation moved the handoff's Task (from the event router). */
export const taskStatusSignal = defineSignal<[{ status: HandoffStatus; date: string; step?: string; eventId?: string }]>('taskStatus');
export const handoffQuery = defineQuery<HandoffProgress>('handoff');
/** From the family's pathway: the handoff's legal basis was withdrawn or refused; its Task goes on hold until the receiver or coordinator moves it. */
export const holdHandoffSignal = defineSignal<[{ reason: string; date: string }]>('holdHandoff');
