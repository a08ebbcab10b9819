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
import type { CareTeam, EpisodeOfCare, Resource, ServiceRequest, Task } from '@medplum/fhirtypes';
import { OperationOutcomeError } from '../fhir/outcome';
import { stableId } from '../fhir/builders/pathway';
import type { FhirStore } from '../fhir/store';
import { osloDate } from '../pathways/calendar';
import type { FamilyPathwayInput } from '../workflows/family-pathway';
import { EVENT_SIGNALS, FAMILY_PATHWAY_WORKFLOW, familyWorkflowId, handoffWorkflowId, taskStatusSignal } from '../workflows/messages';
import type { PathwayEvent } from '../workflows/pathway-events';
import { careTeamAfterTask, careTeamId } from './care-team';
import { classify, GIVE_UP_AFTER, PermanentEventError } from './delivery-errors';
import { enrolmentProblems, type DefinitionCatalogue } from './enrolment-check';
import type { FailedEvents, FailureCause } from './failed-events';
import { failedEventNotice, unmatchedReferralNotice, unmatchedReferralNoticeId } from './coordinator-notices';
import { FeedFollower } from './feed-loop';
import { PATHWAY_TYPE_SYSTEM, questionnaireEvent, referralEvent, routeResource, screeningEvent, type Enrolment, type FamilyContext, type Routed } from './map-resource';

export interface EventRouterOptions {
  store: FhirStore;
  client: Client;
  taskQueue: string;
  plans: DefinitionCatalogue;
  /** Where changes that can never be delivered are kept (fhir.failed_event). */
  failed: FailedEvents;
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
  /**
   * How long a hole in the change feed's sequence is waited for (default 60 s). On a PostgreSQL
   * server a change's number is taken when it is written and becomes visible when its transaction
   * commits, so a lower number can appear after a higher one was read; a hole still empty after
   * this long is a transaction that rolled back (its number is never used).
   */
  gapTimeoutMs?: number;
  /** First wait before retrying a change that failed transiently (default 500 ms), doubled up to 30 s. */
  retryBaseMs?: number;
  /** Clock for gaps and backoff (tests). */
  now?: () => number;
}

type Change = Awaited<ReturnType<FhirStore['changesAfter']>>[number];

/** A family whose next change failed transiently: it and the family's later changes wait, in order. */
interface Blocked {
  changes: Change[];
  attempts: number;
  dueAt: number;
}

/** Changes held in memory behind transient failures before the router stops reading ahead. */
const MAX_BLOCKED = 5_000;

/** The pseudonymous family id of an enrolment: derived from the EpisodeOfCare id, never from a person. */
export const familyIdOf = (episodeId: string) => stableId('forlop-family', 'EpisodeOfCare', episodeId);

export class EventRouter extends FeedFollower {
  private readonly reader: string;
  /** Every change at or below it is delivered, recorded as failed, or passed over (persisted). */
  private position?: number;
  /** The highest change read. */
  private readTo = 0;
  /** Changes above `position` that are done. */
  private readonly done = new Set<number>();
  /** Holes in the feed below `readTo`, with when each was first seen. */
  private readonly gaps = new Map<number, number>();
  private readonly blocked = new Map<string, Blocked>();
  /** The transient error being retried, logged once when it starts and once when delivery recovers. */
  private failing?: string;

  constructor(private readonly options: EventRouterOptions) {
    super(options, 'event router');
    this.reader = options.reader ?? 'pathway-router';
  }

  /**
   * Delivers the next batch of changes; returns how many it dealt with (0 when caught up, or
   * when all that is left waits for a retry). Changes about one mother (her family) are
   * delivered one after another in feed order; different families go at once. A change that
   * fails transiently waits (with its family's later changes) for a retry with backoff; one
   * that fails permanently is recorded as a failed event and passed; neither holds up another
   * family. The checkpoint moves up to the first change not yet dealt with; what was dealt
   * with after it is remembered here, and after a restart comes again and is dropped by its
   * workflow as the duplicate it is.
   */
  async runOnce(): Promise<number> {
    const { store } = this.options;
    const now = this.now();
    if (this.position === undefined) this.readTo = this.position = await store.checkpoint(this.reader);
    let dealt = await this.runRetries();

    const work: Change[] = [];
    // Filled holes: a transaction with a lower number committed after a higher one was read.
    for (const [seq, seenAt] of this.gaps) {
      const [row] = await store.changesAfter(seq - 1, 1);
      if (row?.seq === seq) {
        this.gaps.delete(seq);
        work.push(row);
      } else if (now - seenAt > (this.options.gapTimeoutMs ?? 60_000)) {
        this.gaps.delete(seq);
        this.done.add(seq);
      }
    }
    const heldBack = [...this.blocked.values()].reduce((n, b) => n + b.changes.length, 0);
    if (heldBack < MAX_BLOCKED) {
      const fresh = await store.changesAfter(this.readTo, this.options.batchSize ?? 500);
      for (const change of fresh) {
        for (let s = this.readTo + 1; s < change.seq; s++) this.gaps.set(s, now);
        this.readTo = change.seq;
        work.push(change);
      }
    }
    dealt += work.length;

    const today = this.today();
    const lanes = new Map<string, Change[]>();
    for (const change of work.sort((a, b) => a.seq - b.seq)) {
      const routed = change.deleted ? undefined : routeResource(change.resource, today);
      if (!routed) {
        this.done.add(change.seq);
        continue;
      }
      const blocked = this.blocked.get(routed.patient);
      // Behind a change of the same family that failed transiently: order matters, so it waits.
      if (blocked) blocked.changes.push(change);
      else if (lanes.has(routed.patient)) lanes.get(routed.patient)!.push(change);
      else lanes.set(routed.patient, [change]);
    }
    for (const [patient, blocked] of this.blocked) {
      if (blocked.dueAt > now) continue;
      this.blocked.delete(patient);
      lanes.set(patient, blocked.changes);
      dealt += 1;
      this.pendingAttempts.set(patient, blocked.attempts);
    }

    const queue = [...lanes];
    await Promise.all(
      Array.from({ length: Math.min(this.options.concurrency ?? 16, queue.length) }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) await this.runLane(next[0], next[1]);
      }),
    );
    await this.advance();
    return dealt;
  }

  /** Attempts so far of the change at the head of a family's lane that failed transiently. */
  private readonly pendingAttempts = new Map<string, number>();

  private async runLane(patient: string, lane: Change[]): Promise<void> {
    for (let i = 0; i < lane.length; i++) {
      const change = lane[i];
      try {
        await this.deliver(change.resource);
        this.pendingAttempts.delete(patient);
        this.done.add(change.seq);
        await this.options.failed.supersede(this.reader, change.resource);
      } catch (error) {
        const attempts = (this.pendingAttempts.get(patient) ?? 0) + 1;
        const verdict = classify(error);
        if (verdict.kind === 'transient' && (verdict.known || attempts < GIVE_UP_AFTER)) {
          this.pendingAttempts.set(patient, attempts);
          const delay = Math.min(30_000, (this.options.retryBaseMs ?? 500) * 2 ** (attempts - 1));
          this.blocked.set(patient, { changes: lane.slice(i), attempts, dueAt: this.now() + delay });
          if (this.failing !== verdict.message) {
            this.failing = verdict.message;
            this.options.log?.('event router: delivery failing, retrying with backoff', { seq: change.seq, error: verdict.message, retryInMs: delay });
          }
          return;
        }
        this.pendingAttempts.delete(patient);
        const cause = verdict.kind === 'permanent' ? verdict.cause : 'gave-up';
        const message = verdict.kind === 'permanent' ? verdict.message : `Gave up after ${attempts} attempts: ${verdict.message}`;
        await this.recordFailure(change.seq, change.resource, patient, cause, message);
        this.done.add(change.seq);
      }
    }
    if (this.failing !== undefined && this.blocked.size === 0) {
      this.failing = undefined;
      this.options.log?.('event router: delivery recovered');
    }
  }

  /** Moves the checkpoint over every change dealt with, up to the first that is not (or a hole still awaited). */
  private async advance(): Promise<void> {
    let position = this.position!;
    while (position < this.readTo && this.done.has(position + 1)) this.done.delete(++position);
    if (position === this.position) return;
    this.position = position;
    await this.options.store.saveCheckpoint(this.reader, position);
  }

  /** Failed events an operator asked to retry (POST /api/failed-events/{id}/retry), with the resource as it is now. */
  private async runRetries(): Promise<number> {
    const { failed, store } = this.options;
    const requested = await failed.list(['retry'], this.reader);
    let dealt = 0;
    for (const event of requested) {
      if (this.blocked.has(event.patient)) continue;
      const current = await store.read(event.content.resourceType, event.content.id!).catch(() => event.content);
      try {
        await this.deliver(current);
        await failed.resolve(event.id, 'delivered', `delivered ${current.resourceType}/${current.id}/_history/${current.meta?.versionId ?? 1} on retry`);
        await failed.supersede(this.reader, current);
        this.options.log?.('failed event delivered on retry', { failedEvent: event.id, seq: event.seq });
        dealt++;
      } catch (error) {
        const verdict = classify(error);
        // A transient failure leaves it asked for; the next pass tries again.
        if (verdict.kind === 'transient') continue;
        await this.recordFailure(event.seq, current, event.patient, verdict.cause, verdict.message);
        dealt++;
      }
    }
    return dealt;
  }

  /** Keeps a change that can never be delivered as it stands, and tells the family's coordinator the first time. */
  private async recordFailure(seq: number, resource: Resource, patient: string, cause: FailureCause, error: string): Promise<void> {
    const episode = await this.episodeOf(patient);
    const { event, isNew } = await this.options.failed.record({ reader: this.reader, seq, resource, patient, ...(episode?.id ? { familyId: familyIdOf(episode.id) } : {}), cause, error });
    this.options.log?.('event could not be delivered; recorded as a failed event', { failedEvent: event.id, seq, resourceType: resource.resourceType, cause });
    if (!isNew || !episode) return;
    const notice = await this.options.store.create(failedEventNotice(event, episode));
    await this.options.failed.setNotice(event.id, `Communication/${notice.id}`);
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private today(): string {
    return this.options.today?.() ?? osloDate(Date.now());
  }

  private async deliver(resource: Resource): Promise<void> {
    const routed = routeResource(resource, this.today());
    if (!routed) return;
    if (routed.kind === 'enrol') return this.enrol(routed, resource as EpisodeOfCare);
    const family = await this.familyOf(routed.patient);
    if (!family) return;
    const event = this.eventFor(routed, family);
    if (!event && routed.kind === 'referral') return this.noteUnmatchedReferral(routed.serviceRequest, family, routed.patient);
    if (event?.type === 'handoff-updated' && resource.resourceType === 'Task') await this.updateCareTeam(resource as Task, family, routed.patient, event.date);
    if (event?.type === 'handoff-updated' && (await this.signalHandoff(family.familyId, event))) return;
    if (event) await this.signal(family.familyId, event, routed.patient);
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
        // Not guessed at: a partial or unscorable screening, or one linked to a step it cannot fulfil, is kept as a
        // failed event with the reason (the coordinator is told) for the service to correct with a new version.
        if (problem) throw new PermanentEventError('not-applicable', `QuestionnaireResponse/${routed.response.id} was not applied: ${problem}`);
        return event;
      }
    }
  }

  /** The mother's Forløp EpisodeOfCare, if she has one. */
  private async episodeOf(patient: string): Promise<EpisodeOfCare | undefined> {
    const { resources } = await this.options.store.search('EpisodeOfCare', { patient, _count: '10' });
    return (resources as EpisodeOfCare[]).find((e) => e.type?.some((t) => t.coding?.some((c) => c.system === PATHWAY_TYPE_SYSTEM)));
  }

  /** The family a patient (the mother) is enrolled as, by her active Forløp EpisodeOfCare. */
  private async familyOf(patient: string): Promise<FamilyContext | undefined> {
    const episode = await this.episodeOf(patient);
    const definition = episode?.type?.flatMap((t) => t.coding ?? []).find((c) => c.system === PATHWAY_TYPE_SYSTEM)?.code;
    if (!episode?.id || !definition) return undefined;
    const problems = enrolmentProblems({ ...episode, status: 'active' }, this.options.plans).filter((p) => p.cause === 'unknown-definition');
    // Her enrolment cannot be delivered, so neither can what follows it: it waits for the family (failed, cause no-family).
    if (problems.length > 0) throw new PermanentEventError('no-family', `The family's enrolment (EpisodeOfCare/${episode.id}) failed: ${problems[0].message} This change waits for it and is delivered once the enrolment is fixed.`);
    return { familyId: familyIdOf(episode.id), plan: this.options.plans.plan(definition), ...(episode.managingOrganization?.reference ? { organization: episode.managingOrganization.reference } : {}) };
  }

  /**
   * A referral for an enrolled mother to an organisation no handoff of her definition goes to:
   * nothing starts, so the coordinator is told (a Communication, once per ServiceRequest), and
   * the coordinator API shows it on the family's timeline.
   */
  private async noteUnmatchedReferral(sr: ServiceRequest, family: FamilyContext, patient: string): Promise<void> {
    const { store } = this.options;
    const exists = await store.read('Communication', unmatchedReferralNoticeId(sr.id!)).then(
      () => true,
      (error: unknown) => {
        if (error instanceof OperationOutcomeError && (error.status === 404 || error.status === 410)) return false;
        throw error;
      },
    );
    if (exists) return;
    const episode = await this.episodeOf(patient);
    if (!episode) return;
    await store.update(unmatchedReferralNotice(sr, episode, family.plan.name, this.today()));
    this.options.log?.('referral matches no handoff of the family\'s pathway; the coordinator is told', { serviceRequest: `ServiceRequest/${sr.id}` });
  }

  /** The accepting service joins the family's CareTeam; it leaves at discharge or when it sends the family back (events/care-team.ts). */
  private async updateCareTeam(task: Task, family: FamilyContext, patient: string, on: string): Promise<void> {
    const { store } = this.options;
    const current = await store.read<CareTeam>('CareTeam', careTeamId(family.familyId)).catch((error: unknown) => {
      if (error instanceof OperationOutcomeError && (error.status === 404 || error.status === 410)) return undefined;
      throw error;
    });
    const next = careTeamAfterTask(current, task, { familyId: family.familyId, patient, ...(family.organization ? { organization: family.organization } : {}) }, on);
    if (next) await store.update(next);
  }

  private async enrol(e: Enrolment, resource: EpisodeOfCare): Promise<void> {
    const problems = enrolmentProblems(resource, this.options.plans);
    if (problems.length > 0) throw new PermanentEventError(problems[0].cause, problems.map((p) => p.message).join(' '));
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
    await this.releaseWaiting(e.patient, resource);
  }

  /**
   * The family is enrolled: changes that waited for it (failed events of cause no-family) are
   * delivered now, in feed order, and failed versions of the enrolment itself are superseded.
   */
  private async releaseWaiting(patient: string, episode: EpisodeOfCare): Promise<void> {
    const { failed, store } = this.options;
    await failed.supersede(this.reader, episode);
    for (const event of await failed.waiting(this.reader, patient)) {
      if (event.cause !== 'no-family') continue;
      const current = await store.read(event.content.resourceType, event.content.id!).catch(() => event.content);
      try {
        await this.deliver(current);
      } catch (error) {
        const verdict = classify(error);
        // Transient: the enrolment's change is retried, and this with it.
        if (verdict.kind === 'transient') throw error;
        await this.recordFailure(event.seq, current, patient, verdict.cause, verdict.message);
        continue;
      }
      await failed.resolve(event.id, 'delivered', 'delivered once the family was enrolled');
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

  private async signal(familyId: string, event: PathwayEvent, patient: string): Promise<void> {
    const entry = EVENT_SIGNALS.find(([, type]) => type === event.type);
    if (!entry) return;
    const { type: _type, ...payload } = event;
    try {
      await this.options.client.workflow.getHandle(familyWorkflowId(familyId)).signal(entry[0] as never, payload as never);
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      // Never started because her enrolment failed: the change waits for the family.
      const enrolment = (await this.options.failed.waiting(this.reader, patient)).find((f) => f.content.resourceType === 'EpisodeOfCare');
      if (enrolment) throw new PermanentEventError('no-family', `The family's enrolment (failed event ${enrolment.id}) failed: ${enrolment.error} This change waits for it and is delivered once the enrolment is fixed.`);
      // Otherwise the family's pathway has closed: nothing to tell it.
    }
  }
}
