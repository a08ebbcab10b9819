/** Time in tests on the embedded server's time-skipping clock. */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { osloDate, osloStartOfDay, type IsoDate } from '../../pathways/calendar';

/** The server's time at which tests act on a day: mid-morning in Oslo. */
export const morningOf = (date: IsoDate) => osloStartOfDay(date) + 9 * 3_600_000;

/** Lets virtual time pass until mid-morning of `date`, every timer on the way firing; returns the day it is. */
export async function sleepUntilDay(env: TestWorkflowEnvironment, date: IsoDate): Promise<IsoDate> {
  const now = await env.currentTimeMs();
  if (morningOf(date) > now) await env.sleep(morningOf(date) - now);
  return osloDate(await env.currentTimeMs());
}
