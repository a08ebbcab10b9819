/**
 * The event router: follows the FHIR store's change feed and delivers what
 * each stored version means to the family's workflow, in feed order for each
 * family (families side by side)
 * (signal-with-start style enrolment, then signals). Its position is kept
 * in the store (a checkpoint per reader), so nothing is lost while Temporal
 * or the worker is down: a change is passed on once the server has accepted
 * the signal, and a change delivered twice (a crash between the signal and
 * the checkpoint) is dropped by the workflow, which remembers the version
 * ids it applied. Families are found by their enrolment EpisodeOfCare.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { EpisodeOfCare } from '@medplum/fhirtypes';
import { stableId } from '../fhir/builders/pathway';
import type { FhirStore } from '../fhir/store';
import { osloDate } from '../pathways/calendar';
import type { Plan } from '../pathways/plan';
import type { FamilyPathwayInput } from '../workflows/family-pathway';
import { EVENT_SIGNALS, FAMILY_PATHWAY_WORKFLOW, familyWorkflowId, handoffWorkflowId, taskStatusSignal } from '../workflows/messages';
import type { PathwayEvent } from '../workflows/pathway-events';
import { FeedFollower } from './feed-loop';
import { PATHWAY_TYPE_SYSTEM, questionnaireEvent, referralEvent, routeResource, screeningEvent, type Enrolment, type FamilyContext, type Routed } from './map-resource';

export interface EventRouterOptions {
  store: FhirStore;
  client: Client;
  taskQueue: string;
  plans: { plan(canonicalOrName: string): Plan };
  /** Organisation delivering each service, for the family's references (service id -> Organization/...). */
  services?: Record<string, string>;
  reader?: string;
  /** Changes read from the feed at a time (default 500). */
  batchSize?: number;
  /** Families delivered to at once (default 16); one family's changes always go in order. */
  concurrency?: number;
  log?: (msg: string, fields?: object) => void;
  /** Today in Oslo; default from the clock. */
  today?: () => string;
}

/** The pseudonymous family id of an enrolment: derived from the EpisodeOfCare id, never from a person. */
export const familyIdOf = (episodeId: string) => stableId('forlop-family', 'EpisodeOfCare', episodeId);

export class EventRouter extends FeedFollower {
  private readonly reader: string;

  constructor(private readonly options: EventRouterOptions) {
    super(options, 'event router');
    this.reader = options.reader ?? 'pathway-router';
  }

  /**
   * Delivers the next batch of changes; returns how many were passed on (0
   * when caught up or blocked). Changes about one mother (her family) are
   * delivered one after another in feed order; different families go at
   * once. The checkpoint moves to the last change before the first one that
   * could not be delivered; what was delivered after it comes again later
   * and is dropped by its workflow as the duplicate it is.
   */
  async runOnce(): Promise<number> {
    const { store } = this.options;
    const position = await store.checkpoint(this.reader);
    const changes = await store.changesAfter(position, this.options.batchSize ?? 500);
    if (changes.length === 0) return 0;
    const today = this.today();
    const lanes = new Map<string, typeof changes>();
    for (const change of changes) {
      if (change.deleted) continue;
      const routed = routeResource(change.resource, today);
      if (!routed) continue;
      const lane = lanes.get(routed.patient);
      if (lane) lane.push(change);
      else lanes.set(routed.patient, [change]);
    }
    let blockedAt = Infinity;
    const queue = [...lanes.values()];
    await Promise.all(
      Array.from({ length: Math.min(this.options.concurrency ?? 16, queue.length) }, async () => {
        for (let lane = queue.shift(); lane; lane = queue.shift()) {
          for (const change of lane) {
            if (change.seq > blockedAt) break;
            try {
              await this.deliver(change.resource);
            } catch (error) {
              // Temporal unreachable or refusing: try again from this change later.
              this.options.log?.('event router paused', { seq: change.seq, error: (error as Error).message });
              blockedAt = Math.min(blockedAt, change.seq);
              break;
            }
          }
        }
      }),
    );
    const passed = changes.filter((c) => c.seq < blockedAt);
    if (passed.length > 0) await store.saveCheckpoint(this.reader, passed[passed.length - 1].seq);
    return passed.length;
  }

  private today(): string {
    return this.options.today?.() ?? osloDate(Date.now());
  }

  private async deliver(resource: Parameters<typeof routeResource>[0]): Promise<void> {
    const routed = routeResource(resource, this.today());
    if (!routed) return;
    if (routed.kind === 'enrol') return this.enrol(routed);
    const family = await this.familyOf(routed.patient);
    if (!family) return;
    const event = this.eventFor(routed, family);
    if (event?.type === 'handoff-updated' && (await this.signalHandoff(family.familyId, event))) return;
    if (event) await this.signal(family.familyId, event);
  }

  /** What a routed resource means for this family's plan, if anything. */
  private eventFor(routed: Exclude<Routed, Enrolment>, family: FamilyContext): PathwayEvent | undefined {
    switch (routed.kind) {
      case 'event':
        return routed.event;
      case 'observation':
        return screeningEvent(routed.observation, family.plan, this.today());
      case 'referral':
        return referralEvent(routed.serviceRequest, family.plan, this.options.services ?? {}, this.today());
      case 'questionnaire': {
        const { event, problem } = questionnaireEvent(routed.response, family.plan, this.today());
        // Not guessed at: a partial or unscorable screening is left for the service to correct (a new version).
        if (problem) this.options.log?.('questionnaire response not scored', { resource: `QuestionnaireResponse/${routed.response.id}`, problem });
        return event;
      }
    }
  }

  /** The family a patient (the mother) is enrolled as, by her active Forløp EpisodeOfCare. */
  private async familyOf(patient: string): Promise<FamilyContext | undefined> {
    const { resources } = await this.options.store.search('EpisodeOfCare', { patient, _count: '10' });
    const episode = (resources as EpisodeOfCare[]).find((e) => e.type?.some((t) => t.coding?.some((c) => c.system === PATHWAY_TYPE_SYSTEM)));
    const definition = episode?.type?.flatMap((t) => t.coding ?? []).find((c) => c.system === PATHWAY_TYPE_SYSTEM)?.code;
    if (!episode?.id || !definition) return undefined;
    return { familyId: familyIdOf(episode.id), plan: this.options.plans.plan(definition) };
  }

  private async enrol(e: Enrolment): Promise<void> {
    const familyId = familyIdOf(e.episode);
    const input: FamilyPathwayInput = {
      familyId,
      plan: this.options.plans.plan(e.definition),
      refs: { patient: e.patient, organization: e.organization, ...(e.coordinator ? { coordinator: e.coordinator } : {}), ...(this.options.services ? { services: this.options.services } : {}) },
      anchors: { enrolment: e.enrolment, ...(e.dueDate ? { dueDate: e.dueDate } : {}), ...(e.birth ? { birth: e.birth } : {}) },
    };
    try {
      await this.options.client.workflow.start(FAMILY_PATHWAY_WORKFLOW, { taskQueue: this.options.taskQueue, workflowId: familyWorkflowId(familyId), args: [input], workflowIdReusePolicy: 'REJECT_DUPLICATE' });
      this.options.log?.('family enrolled', { workflowId: familyWorkflowId(familyId) });
    } catch (error) {
      // A later version of the same EpisodeOfCare: the family is already on its way.
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }

  /** A handoff's Task moved: its own workflow keeps the deadline (false when there is none, e.g. families from before handoff workflows). */
  private async signalHandoff(familyId: string, event: Extract<PathwayEvent, { type: 'handoff-updated' }>): Promise<boolean> {
    try {
      await this.options.client.workflow.getHandle(handoffWorkflowId(familyId, event.key)).signal(taskStatusSignal, { status: event.status, date: event.date, ...(event.step ? { step: event.step } : {}), ...(event.eventId ? { eventId: event.eventId } : {}) });
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  }

  private async signal(familyId: string, event: PathwayEvent): Promise<void> {
    const entry = EVENT_SIGNALS.find(([, type]) => type === event.type);
    if (!entry) return;
    const { type: _type, ...payload } = event;
    try {
      await this.options.client.workflow.getHandle(familyWorkflowId(familyId)).signal(entry[0] as never, payload as never);
    } catch (error) {
      // The family's pathway has closed (or never started): nothing to tell it.
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
}
