/**
 * Time and effects plumbing the family and handoff workflows share: today
 * in Oslo on the workflow's clock, waiting for the start of a day or for
 * something to do, and the one proxy of the effects activities.
 */
import * as wf from '@temporalio/workflow';
import type * as activities from '../activities/pathway-effects';
import { osloDate, osloStartOfDay, type IsoDate } from '../pathways/calendar';

/**
 * The FHIR side of effects: short, idempotent transactions, retried until they
 * succeed. An attempt whose worker died is tried again after 30 s.
 */
export const effectsActivities = wf.proxyActivities<typeof activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '5 minutes' },
});

/** Today in Europe/Oslo, on the workflow's (deterministic) clock. */
export function workflowToday(): IsoDate {
  return osloDate(Date.now());
}

/**
 * Waits until `ready()` holds or `day` begins in Oslo (forever when there is
 * no day). True when `ready()` woke it; false when the day came (at once if
 * it already has).
 */
export async function waitForDayOr(day: IsoDate | undefined, ready: () => boolean): Promise<boolean> {
  if (day === undefined) {
    await wf.condition(ready);
    return true;
  }
  const waitMs = osloStartOfDay(day) - Date.now();
  return waitMs > 0 ? wf.condition(ready, waitMs) : false;
}
