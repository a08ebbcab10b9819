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
    {
      validator: (n) => {
        if (n < 0) throw new Error('negative amounts are not allowed');
      },
    },
  );
  await wf.condition(() => done);
  await wf.condition(wf.allHandlersFinished);
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

export async function retries(): Promise<{ flaky: number; nonRetryable: string; typed: string }> {
  const flaky = await acts.flaky(wf.workflowInfo().workflowId, 3);
  const failure = async (p: Promise<unknown>) => {
    try {
      await p;
      return 'no failure';
    } catch (error) {
      const cause = (error as wf.ActivityFailure).cause as wf.ApplicationFailure;
      return `${cause.type}:${cause.nonRetryable}`;
    }
  };
  const nonRetryable = await failure(acts.failNonRetryable());
  const typedActs = wf.proxyActivities<typeof activities>({ startToCloseTimeout: '10s', retry: { initialInterval: '50ms', maximumAttempts: 5, nonRetryableErrorTypes: ['Fatal'] } });
  const typed = await failure(typedActs.failWithType('Fatal'));
  return { flaky, nonRetryable, typed };
}

export async function heartbeats(): Promise<{ resumedFrom: number; attempt: number }> {
  const hb = wf.proxyActivities<typeof activities>({ startToCloseTimeout: '30s', heartbeatTimeout: '500ms', retry: { initialInterval: '10ms', maximumAttempts: 3 } });
  return hb.heartbeating(5, true);
}

export async function activityTimeouts(): Promise<string[]> {
  const out: string[] = [];
  const s2c = wf.proxyActivities<typeof activities>({ startToCloseTimeout: '200ms', retry: { maximumAttempts: 1 } });
  try {
    await s2c.slow(2000);
  } catch (error) {
    out.push(String(((error as wf.ActivityFailure).cause as wf.TimeoutFailure).timeoutType));
  }
  const sched = wf.proxyActivities<typeof activities>({ scheduleToCloseTimeout: '300ms', startToCloseTimeout: '200ms', retry: { initialInterval: '10ms' } });
  try {
    await sched.slow(2000);
  } catch (error) {
    out.push(String(((error as wf.ActivityFailure).cause as wf.TimeoutFailure).timeoutType));
  }
  return out;
}

export async function cancelActivities(): Promise<string[]> {
  const out: string[] = [];
  const waiting = wf.proxyActivities<typeof activities>({ startToCloseTimeout: '30s', heartbeatTimeout: '5s', cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED });
  const scope = new wf.CancellationScope();
  const p = scope.run(() => waiting.waitForCancel());
  await wf.sleep('300ms');
  scope.cancel();
  try {
    await p;
    out.push('completed');
  } catch (error) {
    out.push(wf.isCancellation(error) ? 'heartbeating activity cancelled' : String(error));
  }
  // Cancelled before any worker picked it up (no worker polls this queue).
  const nowhere = wf.proxyActivities<typeof activities>({ startToCloseTimeout: '30s', taskQueue: 'nobody-polls-this' });
  const scope2 = new wf.CancellationScope();
  const p2 = scope2.run(() => nowhere.greet('x'));
  await wf.sleep('10ms');
  scope2.cancel();
  try {
    await p2;
  } catch (error) {
    out.push(wf.isCancellation(error) ? 'scheduled activity cancelled' : String(error));
  }
  return out;
}

export async function localActivities(): Promise<string> {
  const local = wf.proxyLocalActivities<typeof activities>({ startToCloseTimeout: '5s' });
  return local.localEcho('x');
}

export async function timers(): Promise<string[]> {
  const out: string[] = [];
  const scope = new wf.CancellationScope();
  const long = scope.run(() => wf.sleep('10 days'));
  await wf.sleep('1 hour');
  out.push('short timer fired');
  scope.cancel();
  try {
    await long;
  } catch (error) {
    if (wf.isCancellation(error)) out.push('long timer cancelled');
  }
  return out;
}

export async function child(mode: 'complete' | 'fail' | 'wait'): Promise<string> {
  if (mode === 'fail') throw wf.ApplicationFailure.nonRetryable('child failed on purpose', 'ChildFailure');
  if (mode === 'wait') {
    await wf.condition(() => false);
  }
  return `child of ${wf.workflowInfo().parent?.workflowId}`;
}

export async function parent(): Promise<string[]> {
  const out: string[] = [];
  out.push(await wf.executeChild(child, { args: ['complete'], workflowId: `${wf.workflowInfo().workflowId}-c1` }));
  try {
    await wf.executeChild(child, { args: ['fail'], workflowId: `${wf.workflowInfo().workflowId}-c2` });
  } catch (error) {
    out.push(`${((error as wf.ChildWorkflowFailure).cause as wf.ApplicationFailure).type}`);
  }
  // A child cancelled by its parent (RequestCancelExternal for a child).
  const scope = new wf.CancellationScope();
  let started!: () => void;
  const startedP = new Promise<void>((resolve) => (started = resolve));
  const result = scope
    .run(async () => {
      const handle = await wf.startChild(child, { args: ['wait'], workflowId: `${wf.workflowInfo().workflowId}-c3`, cancellationType: wf.ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED });
      started();
      return handle.result();
    })
    .catch((e: unknown) => (wf.isCancellation(e) ? 'child cancelled' : String(e)));
  await startedP;
  scope.cancel();
  out.push(String(await result));
  // Left running when the parent closes: TERMINATE by default.
  await wf.startChild(child, { args: ['wait'], workflowId: `${wf.workflowInfo().workflowId}-c4` });
  await wf.startChild(child, { args: ['wait'], workflowId: `${wf.workflowInfo().workflowId}-c5`, parentClosePolicy: 'ABANDON' });
  return out;
}

export async function signaller(targetId: string): Promise<string[]> {
  const out: string[] = [];
  await wf.getExternalWorkflowHandle(targetId).signal(bumpSignal, 40);
  out.push('signalled');
  try {
    await wf.getExternalWorkflowHandle('does-not-exist').signal(bumpSignal, 1);
  } catch (error) {
    out.push(`missing: ${(error as Error).message}`);
  }
  await wf.getExternalWorkflowHandle(`${targetId}-victim`).cancel();
  out.push('cancel requested');
  return out;
}

export async function cancellable(): Promise<string> {
  try {
    await wf.condition(() => false);
    return 'never';
  } catch (error) {
    if (wf.isCancellation(error)) return 'cancelled';
    throw error;
  }
}

export async function continuing(n: number, total: number): Promise<number> {
  if (n < 3) return wf.continueAsNew<typeof continuing>(n + 1, total + n);
  return total + n;
}

export async function failsThenSucceeds(): Promise<number> {
  const attempt = wf.workflowInfo().attempt;
  if (attempt < 3) throw wf.ApplicationFailure.create({ message: `workflow attempt ${attempt} fails` });
  return attempt;
}

export async function sleeper(): Promise<void> {
  await wf.sleep('1 day');
}

export async function tagged(status: string): Promise<void> {
  wf.upsertSearchAttributes({ FamilyPhase: [status], Overdue: [2] });
  await wf.condition(() => false, '2 days');
}

export async function busy(): Promise<number> {
  let signals = 0;
  wf.setHandler(bumpSignal, () => void signals++);
  // Burn real CPU so a signal arrives while this task is with the worker.
  const until = performanceNow() + 2000;
  let x = 0;
  while (performanceNow() < until) x++;
  return x >= 0 ? signals : -1;
}

// The sandbox freezes Date.now; a counting loop stands in for real time.
let ticks = 0;
function performanceNow(): number {
  ticks++;
  return ticks / 20_000;
}

/** Fails its workflow task (a plain Error is a task failure, not a workflow failure) until terminated. */
export async function brokenTask(): Promise<void> {
  throw new Error('a bug in workflow code: the task fails and is retried');
}

/** Waits for a signal, sleeps, runs an activity and a child, waits for a second signal: spans a server restart in the durability tests. */
export async function restartable(sleepMs: number): Promise<{ signals: number[]; greeting: string; child: string }> {
  const signals: number[] = [];
  wf.setHandler(bumpSignal, (n) => void signals.push(n));
  wf.setHandler(countQuery, () => signals.length);
  await wf.condition(() => signals.length >= 1);
  await wf.sleep(sleepMs);
  const greeting = await acts.greet('again');
  const childResult = await wf.executeChild(child, { args: ['complete'], workflowId: `${wf.workflowInfo().workflowId}-child` });
  await wf.condition(() => signals.length >= 2);
  return { signals, greeting, child: childResult };
}

/** A workflow timer of one day racing an activity that takes two (virtual) days: which finished first. */
export async function timerDuringActivity(): Promise<{ order: string[]; elapsedMs: number }> {
  const long = wf.proxyActivities<{ twoDayJob(): Promise<string> }>({ startToCloseTimeout: '5 days', retry: { maximumAttempts: 1 } });
  const started = Date.now();
  const order: string[] = [];
  const job = long.twoDayJob().then((r) => order.push(`activity:${r}`));
  await wf.sleep('1 day');
  order.push('timer');
  await job;
  return { order, elapsedMs: Date.now() - started };
}
