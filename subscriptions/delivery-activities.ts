/**
 * Delivering one notification to a subscriber (FHIR R4 rest-hook,
 * https://hl7.org/fhir/R4/subscription.html#2.46.7.1): with an empty
 * `channel.payload`, a POST with no body to the endpoint; with a payload
 * type, the resource is PUT to `[endpoint]/[type]/[id]`. `channel.header`
 * lines are sent as given (e.g. the subscriber's own Authorization).
 *
 * A failed attempt is written on the Subscription (status `error`, `error`
 * the last failure) before the activity fails, so the subscriber's operator
 * sees it; Temporal retries with backoff (subscriptions/delivery-workflow.ts).
 * The first success after failures sets the Subscription `active` again.
 * The error text names the HTTP status or the network failure only: never
 * resource content.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Subscription } from '@medplum/fhirtypes';
import type { FhirStore } from '../fhir/store';
import { readIfPresent } from '../activities/fhir-helpers';

export interface NotificationInput {
  subscriptionId: string;
  resourceType: string;
  id: string;
  versionId: string;
}

export type DeliveryResult = { delivered: true; status: number } | { delivered: false; reason: string };

/** Subscriptions live in Forløp's own store, whatever server the workflows write to. */
export type SubscriptionStore = Pick<FhirStore, 'read' | 'vread' | 'update' | 'search' | 'transaction'>;

const TIMEOUT_MS = 20_000;

export function createSubscriptionActivities({ store, fetch: fetchImpl = fetch }: { store: SubscriptionStore; fetch?: typeof fetch }) {
  async function setStatus(subscriptionId: string, status: 'active' | 'error', error?: string): Promise<void> {
    const current = (await readIfPresent(store, 'Subscription', subscriptionId)) as Subscription | undefined;
    if (!current || current.status === 'off') return;
    if (current.status === status && current.error === error) return;
    const next: Subscription = { ...current, status };
    if (error) next.error = error;
    else delete next.error;
    await store.update(next);
  }

  async function deliverNotification(input: NotificationInput): Promise<DeliveryResult> {
    const subscription = (await readIfPresent(store, 'Subscription', input.subscriptionId)) as Subscription | undefined;
    if (!subscription || subscription.status === 'off') return { delivered: false, reason: 'The Subscription was turned off or deleted before delivery.' };
    const resource = await store.vread(input.resourceType, input.id, input.versionId);
    const endpoint = subscription.channel.endpoint!.replace(/\/+$/, '');
    const headers: Record<string, string> = {};
    for (const line of subscription.channel.header ?? []) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    const payload = subscription.channel.payload;
    let failure: string;
    try {
      const response = payload
        ? await fetchImpl(`${endpoint}/${input.resourceType}/${input.id}`, { method: 'PUT', headers: { ...headers, 'content-type': payload }, body: JSON.stringify(resource), signal: AbortSignal.timeout(TIMEOUT_MS) })
        : await fetchImpl(endpoint, { method: 'POST', headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) {
        await setStatus(input.subscriptionId, 'active');
        return { delivered: true, status: response.status };
      }
      failure = `HTTP ${response.status} from the endpoint`;
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      failure = (error as Error).name === 'TimeoutError' ? `No answer from the endpoint within ${TIMEOUT_MS / 1000} s` : `Could not reach the endpoint${cause ? ` (${cause})` : ''}`;
    }
    const text = `${failure} at ${new Date().toISOString()}; Forløp keeps retrying (notification of ${input.resourceType}/${input.id}/_history/${input.versionId}).`;
    await setStatus(input.subscriptionId, 'error', text);
    throw ApplicationFailure.retryable(text, 'SubscriptionDeliveryFailed');
  }

  /** After the last retry: the Subscription says the notification was given up, so it is not silently lost. */
  async function recordDeliveryGivenUp(input: NotificationInput & { reason: string }): Promise<void> {
    await setStatus(input.subscriptionId, 'error', `Gave up notifying of ${input.resourceType}/${input.id}/_history/${input.versionId}: ${input.reason}`);
  }

  return { deliverNotification, recordDeliveryGivenUp };
}

export type SubscriptionActivities = ReturnType<typeof createSubscriptionActivities>;
