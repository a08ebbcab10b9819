/**
 * Outbound notifications: follows the FHIR store's change feed (its own
 * checkpoint, like the event router) and, for every new or changed Task or
 * ServiceRequest version that an active Subscription's criteria match,
 * starts one delivery workflow (subscriptions/delivery-activities.ts,
 * workflows/subscription-delivery.ts).
 *
 * Subscriptions are activated here: a new or changed Subscription with a
 * rest-hook channel to an http(s) endpoint and valid criteria becomes
 * `active`; otherwise `error`, with the reason in `error`. Only changes after
 * a Subscription is active are notified (R4). If Temporal cannot be reached,
 * the notifier stops at that change and tries again from it: nothing is
 * skipped, and the workflow id keeps a change from being notified twice.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Resource, Subscription } from '@medplum/fhirtypes';
import type { FhirStore } from '../fhir/store';
import { SUBSCRIPTION_DELIVERY_WORKFLOW, subscriptionDeliveryWorkflowId } from '../workflows/subscription-delivery';
import { FeedFollower } from '../events/feed-loop';
import { CriteriaError, matches, parseCriteria, SUBSCRIBABLE_TYPES, type ParsedCriteria } from './criteria';
import type { NotificationInput } from './delivery-activities';

export interface SubscriptionNotifierOptions {
  store: FhirStore;
  client: Client;
  taskQueue: string;
  reader?: string;
  batchSize?: number;
  log?: (msg: string, fields?: object) => void;
}

/** Why a Subscription cannot be served, or undefined when it can. */
export function subscriptionProblem(subscription: Subscription): string | undefined {
  if (subscription.channel?.type !== 'rest-hook') return `Forløp delivers rest-hook subscriptions only; channel.type is ${subscription.channel?.type ?? 'missing'}.`;
  const endpoint = subscription.channel.endpoint;
  if (!endpoint || !/^https?:\/\/[^/]/.test(endpoint)) return 'channel.endpoint must be an http(s) URL.';
  if (subscription.channel.payload && !/^application\/(fhir\+)?json$/.test(subscription.channel.payload)) return 'channel.payload must be application/fhir+json (or empty for a notification without the resource).';
  try {
    parseCriteria(subscription.criteria);
  } catch (error) {
    if (error instanceof CriteriaError) return error.message;
    throw error;
  }
  return undefined;
}

export class SubscriptionNotifier extends FeedFollower {
  private readonly reader: string;
  private subscriptions?: Map<string, { subscription: Subscription; criteria: ParsedCriteria }>;

  constructor(private readonly options: SubscriptionNotifierOptions) {
    super(options, 'subscription notifier');
    this.reader = options.reader ?? 'subscription-notifier';
  }

  /** Passes on the next batch of changes; returns how many (0 when caught up or blocked). */
  async runOnce(): Promise<number> {
    const { store } = this.options;
    if (!this.subscriptions) await this.loadSubscriptions();
    let position = await store.checkpoint(this.reader);
    const changes = await store.changesAfter(position, this.options.batchSize ?? 100);
    let passed = 0;
    for (const change of changes) {
      try {
        if (change.resource.resourceType === 'Subscription') await this.subscriptionChanged(change.resource as Subscription, change.deleted);
        else if (!change.deleted && (SUBSCRIBABLE_TYPES as readonly string[]).includes(change.resource.resourceType)) await this.notify(change.resource);
      } catch (error) {
        this.options.log?.('subscription notifier paused', { seq: change.seq, error: (error as Error).message });
        break;
      }
      position = change.seq;
      await store.saveCheckpoint(this.reader, position);
      passed++;
    }
    return passed;
  }

  private async loadSubscriptions(): Promise<void> {
    const map = new Map<string, { subscription: Subscription; criteria: ParsedCriteria }>();
    for (let offset = 0; ; offset += 1000) {
      const page = await this.options.store.search('Subscription', { status: 'active,error', _count: '1000', _offset: String(offset) });
      for (const s of page.resources as Subscription[]) {
        if (!subscriptionProblem(s)) map.set(s.id!, { subscription: s, criteria: parseCriteria(s.criteria) });
      }
      if (page.resources.length < 1000) break;
    }
    this.subscriptions = map;
  }

  private async subscriptionChanged(subscription: Subscription, deleted: boolean): Promise<void> {
    const map = this.subscriptions!;
    const id = subscription.id!;
    // The feed carries every version; act on the current one.
    const current = deleted ? undefined : await this.options.store.read<Subscription>('Subscription', id).catch(() => undefined);
    if (!current || current.status === 'off') {
      map.delete(id);
      return;
    }
    const problem = subscriptionProblem(current);
    if (problem) {
      map.delete(id);
      if (current.status !== 'error' || current.error !== problem) await this.options.store.update<Subscription>({ ...current, status: 'error', error: problem });
      return;
    }
    map.set(id, { subscription: current, criteria: parseCriteria(current.criteria) });
    if (current.status === 'requested') await this.options.store.update<Subscription>({ ...current, status: 'active' });
  }

  private async notify(resource: Resource): Promise<void> {
    for (const { subscription, criteria } of this.subscriptions!.values()) {
      if (!matches(criteria, resource)) continue;
      const input: NotificationInput = { subscriptionId: subscription.id!, resourceType: resource.resourceType, id: resource.id!, versionId: resource.meta?.versionId ?? '1' };
      try {
        await this.options.client.workflow.start(SUBSCRIPTION_DELIVERY_WORKFLOW, {
          taskQueue: this.options.taskQueue,
          workflowId: subscriptionDeliveryWorkflowId(input),
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          args: [input],
        });
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      }
    }
  }
}
