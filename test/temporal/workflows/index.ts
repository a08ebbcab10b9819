// Workflows that exercise the embedded Temporal server from the real SDK.
import * as wf from '@temporalio/workflow';
import type * as activities from '../activities';

const acts = wf.proxyActivities<typeof activities>({ startToCloseTimeout: '10s', retry: { initialInterval: '50ms', maximumAttempts: 3 } });

export const bumpSignal = wf.defineSignal<[number]>('bump');
export const doneSignal = wf.defineSignal('done');
export const countQuery = wf.defineQuery<number>('count');
export const addUpdate = wf.defineUpdate<number, [number]>('add');

export async function greet(name: string): Promise<string> {
  return acts.greet(name);
}

export async function counter(): Promise<number> {
  let count = 0;
  let done = false;
  wf.setHandler(bumpSignal, (n) => void (count += n));
  wf.setHandler(doneSignal, () => void (done = true));
  wf.setHandler(countQuery, () => count);
  wf.setHandler(
    addUpdate,
    (n) => {
      count += n;
      return count;
    },
    { validator: (n) => { if (n < 0) throw new Error('negative amounts are not allowed'); } },
  );
  await wf.condition(() => done);
  return count;
}

export async function monthlyFor3Years(): Promise<{ wakes: number; startedAt: number; endedAt: number }> {
  const startedAt = Date.now();
  let wakes = 0;
  for (let i = 0; i < 36; i++) {
    await wf.sleep('30 days');
    wakes++;
  }
  return { wakes, startedAt, endedAt: Date.now() };
}
