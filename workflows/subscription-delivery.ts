/**
 * One notification to one subscriber, as a workflow so it survives restarts
 * and is retried with backoff for two days (at least the 24 hours a
 * receiving system may be down): 30 s, doubling, at most an hour apart.
 * When it gives up, the Subscription says so (status error): nothing is
 * dropped silently. The workflow id names the Subscription and the resource
 * version, so the same change is never notified twice.
 */
import * as wf from '@temporalio/workflow';
import type { DeliveryResult, NotificationInput, SubscriptionActivities } from '../subscriptions/delivery-activities';

export const SUBSCRIPTION_DELIVERY_WORKFLOW = 'subscriptionDelivery';

export function subscriptionDeliveryWorkflowId(input: NotificationInput): string {
  return `notify-${input.subscriptionId}-${input.resourceType}-${input.id}-${input.versionId}`;
}

const { deliverNotification } = wf.proxyActivities<SubscriptionActivities>({
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '48 hours',
  retry: { initialInterval: '30 seconds', backoffCoefficient: 2, maximumInterval: '1 hour' },
});
const { recordDeliveryGivenUp } = wf.proxyActivities<SubscriptionActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '5 minutes' },
});

export async function subscriptionDelivery(input: NotificationInput): Promise<DeliveryResult> {
  try {
    return await deliverNotification(input);
  } catch (error) {
    if (wf.isCancellation(error)) throw error;
    const reason = error instanceof wf.ActivityFailure && error.cause ? error.cause.message : (error as Error).message;
    await recordDeliveryGivenUp({ ...input, reason: `no success within 48 hours (${reason})` });
    return { delivered: false, reason };
  }
}
