/**
 * The cohort's wake-ups with no pathway behind them (bench/cohort-floor.ts):
 * sleep to each day, then one activity that does nothing. What the SDK and
 * the embedded server cost for the cohort's timers and effects, before any
 * of Forløp's own work.
 */
import * as wf from '@temporalio/workflow';

interface NoopActivities {
  noop(): Promise<void>;
}

const remote = wf.proxyActivities<NoopActivities>({ startToCloseTimeout: '30 seconds' });
const local = wf.proxyLocalActivities<NoopActivities>({ startToCloseTimeout: '30 seconds' });

export type FloorMode = 'timers' | 'local' | 'remote';

/** Wakes at each time (epoch ms) and, unless mode is 'timers', runs one no-op activity of that kind. */
export async function cohortFloor(wakes: number[], mode: FloorMode): Promise<number> {
  for (const at of wakes) {
    const ms = at - Date.now();
    if (ms > 0) await wf.sleep(ms);
    if (mode === 'remote') await remote.noop();
    else if (mode === 'local') await local.noop();
  }
  return wakes.length;
}
