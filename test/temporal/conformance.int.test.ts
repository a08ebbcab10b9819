/**
 * Conformance of the embedded Temporal server: the real @temporalio/worker
 * and @temporalio/client against it, one feature per test, and every history
 * produced replayed with Worker.runReplayHistories at the end.
 */
import { randomUUID } from 'node:crypto';
import { Client, WithStartWorkflowOperation, WorkflowFailedError, WorkflowNotFoundError, WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { status } from '@grpc/grpc-js';
import { temporal } from '@temporalio/proto';
import { createTestEnvironment, type EmbeddedTestEnvironment } from '../../temporal/embedded/test-env';
import * as activities from './activities';
import { saveHistoryFixture } from './history-fixtures';

Runtime.install({ logger: new DefaultLogger('WARN') });

const taskQueue = 'conformance';
const workflowsPath = require.resolve('./workflows');
let env: EmbeddedTestEnvironment;
let worker: Worker;
let running: Promise<void>;
const produced: { workflowId: string; runId?: string }[] = [];

const id = (name: string) => {
  const workflowId = `${name}-${randomUUID().slice(0, 8)}`;
  produced.push({ workflowId });
  return workflowId;
};

beforeAll(async () => {
  env = await createTestEnvironment({ searchAttributes: { FamilyPhase: 'Keyword', Overdue: 'Int' } });
  worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowsPath, activities, stickyQueueScheduleToStartTimeout: '1s' });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

describe('workflows, activities and messages', () => {
  it('starts a workflow that runs an activity and returns its result', async () => {
    const result = await env.client.workflow.execute('greet', { taskQueue, workflowId: id('greet'), args: ['Forløp'] });
    expect(result).toBe('Hello, Forløp!');
  });

  it('delivers signals, answers queries while idle and after close, and runs updates with validators', async () => {
    const handle = await env.client.workflow.start('counter', { taskQueue, workflowId: id('counter') });
    await handle.signal('bump', 2);
    expect(await handle.query<number>('count')).toBe(2);
    expect(await handle.executeUpdate<number, [number]>('add', { args: [5] })).toBe(7);
    await expect(handle.executeUpdate('add', { args: [-1] })).rejects.toThrow(WorkflowUpdateFailedError);
    await handle.signal('done');
    expect(await handle.result()).toBe(7);
    expect(await handle.query<number>('count')).toBe(7);
  });

  it('signal-with-start starts once and then signals the running workflow', async () => {
    const workflowId = id('sws');
    const first = await env.client.workflow.signalWithStart('counter', { taskQueue, workflowId, signal: 'bump', signalArgs: [1] });
    const second = await env.client.workflow.signalWithStart('counter', { taskQueue, workflowId, signal: 'bump', signalArgs: [10] });
    expect(second.signaledRunId).toBe(first.signaledRunId);
    await first.signal('done');
    expect(await first.result()).toBe(11);
  });

  it('update-with-start starts the workflow and returns the update result', async () => {
    const workflowId = id('uws');
    const startOp = new WithStartWorkflowOperation('counter', { taskQueue, workflowId, workflowIdConflictPolicy: 'USE_EXISTING' });
    expect(await env.client.workflow.executeUpdateWithStart('add', { args: [3], startWorkflowOperation: startOp })).toBe(3);
    const handle = await startOp.workflowHandle();
    await handle.signal('done');
    expect(await handle.result()).toBe(3);
  });

  it('applies id conflict and reuse policies', async () => {
    const workflowId = id('policy');
    const handle = await env.client.workflow.start('counter', { taskQueue, workflowId });
    await expect(env.client.workflow.start('counter', { taskQueue, workflowId })).rejects.toThrow(WorkflowExecutionAlreadyStartedError);
    const existing = await env.client.workflow.start('counter', { taskQueue, workflowId, workflowIdConflictPolicy: 'USE_EXISTING' });
    expect(existing.firstExecutionRunId).toBe(handle.firstExecutionRunId);
    await handle.signal('done');
    await handle.result();
    await expect(env.client.workflow.start('counter', { taskQueue, workflowId, workflowIdReusePolicy: 'REJECT_DUPLICATE' })).rejects.toThrow(WorkflowExecutionAlreadyStartedError);
    const again = await env.client.workflow.start('counter', { taskQueue, workflowId, workflowIdReusePolicy: 'ALLOW_DUPLICATE' });
    expect(again.firstExecutionRunId).not.toBe(handle.firstExecutionRunId);
    await again.terminate('done with the test');
  });

  it('describes, cancels and terminates', async () => {
    const handle = await env.client.workflow.start('cancellable', { taskQueue, workflowId: id('cancel'), memo: { purpose: 'test' } });
    const description = await handle.describe();
    expect(description.status.name).toBe('RUNNING');
    expect(description.memo).toEqual({ purpose: 'test' });
    await handle.cancel();
    expect(await handle.result()).toBe('cancelled');
    const victim = await env.client.workflow.start('cancellable', { taskQueue, workflowId: id('terminate') });
    await victim.terminate('because');
    await expect(victim.result()).rejects.toThrow(WorkflowFailedError);
    expect((await victim.describe()).status.name).toBe('TERMINATED');
    await expect(env.client.workflow.getHandle('no-such-workflow').describe()).rejects.toThrow(WorkflowNotFoundError);
  });

  it('retries activities with backoff and honours non-retryable failures', async () => {
    const result = await env.client.workflow.execute('retries', { taskQueue, workflowId: id('retries') });
    expect(result).toEqual({ flaky: 3, nonRetryable: 'BadInput:true', typed: 'Fatal:false' });
  });

  it('times out an activity that stops heartbeating and resumes from its heartbeat details', async () => {
    const result = await env.client.workflow.execute('heartbeats', { taskQueue, workflowId: id('heartbeats') });
    expect(result).toEqual({ resumedFrom: 2, attempt: 2 });
  });

  it('enforces start-to-close and schedule-to-close timeouts', async () => {
    const result = await env.client.workflow.execute('activityTimeouts', { taskQueue, workflowId: id('timeouts') });
    expect(result).toEqual(['START_TO_CLOSE', 'SCHEDULE_TO_CLOSE']);
  });

  it('cancels a heartbeating activity and one that no worker has picked up', async () => {
    const result = await env.client.workflow.execute('cancelActivities', { taskQueue, workflowId: id('cancel-acts') });
    expect(result).toEqual(['heartbeating activity cancelled', 'scheduled activity cancelled']);
  });

  it('records local activities as markers', async () => {
    const handle = await env.client.workflow.start('localActivities', { taskQueue, workflowId: id('local') });
    expect(await handle.result()).toBe('local:x');
    const history = await handle.fetchHistory();
    expect(history.events?.some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toBe(true);
  });

  it('fires timers and cancels them', async () => {
    expect(await env.client.workflow.execute('timers', { taskQueue, workflowId: id('timers') })).toEqual(['short timer fired', 'long timer cancelled']);
  });

  it('runs child workflows: complete, fail, cancel, and the parent close policy', async () => {
    const workflowId = id('parent');
    expect(await env.client.workflow.execute('parent', { taskQueue, workflowId })).toEqual([`child of ${workflowId}`, 'ChildFailure', 'child cancelled']);
    expect((await env.client.workflow.getHandle(`${workflowId}-c4`).describe()).status.name).toBe('TERMINATED');
    const abandoned = env.client.workflow.getHandle(`${workflowId}-c5`);
    expect((await abandoned.describe()).status.name).toBe('RUNNING');
    await abandoned.terminate('cleanup');
    produced.push(...['c1', 'c2', 'c3', 'c4', 'c5'].map((c) => ({ workflowId: `${workflowId}-${c}` })));
  });

  it('signals and cancels external workflows', async () => {
    const targetId = id('target');
    const target = await env.client.workflow.start('counter', { taskQueue, workflowId: targetId });
    const victim = await env.client.workflow.start('cancellable', { taskQueue, workflowId: `${targetId}-victim` });
    produced.push({ workflowId: `${targetId}-victim` });
    expect(await env.client.workflow.execute('signaller', { taskQueue, workflowId: id('signaller'), args: [targetId] })).toEqual([
      'signalled',
      expect.stringMatching(/^missing: .*not found/i),
      'cancel requested',
    ]);
    expect(await victim.result()).toBe('cancelled');
    await target.signal('done');
    expect(await target.result()).toBe(40);
  });

  it('follows continue-as-new chains', async () => {
    const handle = await env.client.workflow.start('continuing', { taskQueue, workflowId: id('can'), args: [0, 0] });
    expect(await handle.result()).toBe(6);
    const history = await env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory();
    expect(history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
  });

  it('retries a failed workflow by its retry policy', async () => {
    const result = await env.client.workflow.execute('failsThenSucceeds', { taskQueue, workflowId: id('wf-retry'), retry: { initialInterval: '1s', maximumAttempts: 5 } });
    expect(result).toBe(3);
  });

  it('times a workflow out by its run timeout', async () => {
    const handle = await env.client.workflow.start('sleeper', { taskQueue, workflowId: id('run-timeout'), workflowRunTimeout: '1 hour' });
    await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
    expect((await handle.describe()).status.name).toBe('TIMED_OUT');
  });

  it('lists and counts workflows with search attributes and the list query subset', async () => {
    const a = await env.client.workflow.start('tagged', { taskQueue, workflowId: id('tagged-a'), args: ['postnatal'] });
    const b = await env.client.workflow.start('tagged', { taskQueue, workflowId: id('tagged-b'), args: ['pregnancy'] });
    // Wait until both upserts are recorded.
    for (const h of [a, b]) {
      for (let i = 0; i < 100 && !(await h.describe()).searchAttributes.FamilyPhase; i++) await new Promise((r) => setTimeout(r, 20));
    }
    const ids = async (query: string) => {
      const out: string[] = [];
      for await (const w of env.client.workflow.list({ query })) out.push(w.workflowId);
      return out.sort();
    };
    expect(await ids(`WorkflowType = 'tagged' AND FamilyPhase = 'postnatal'`)).toEqual([a.workflowId]);
    expect(await ids(`WorkflowType = 'tagged' AND (FamilyPhase = 'pregnancy' OR FamilyPhase = 'postnatal') AND Overdue >= 2 AND ExecutionStatus = 'Running'`)).toEqual([a.workflowId, b.workflowId].sort());
    expect(await ids(`WorkflowId IN ('${b.workflowId}') ORDER BY StartTime DESC`)).toEqual([b.workflowId]);
    expect((await env.client.workflow.count(`WorkflowType = 'tagged' AND FamilyPhase = 'pregnancy'`)).count).toBe(1);
    const error = await ids(`NoSuchField = 'x'`).catch((e: { cause?: { details?: string } }) => e);
    expect((error as { cause?: { details?: string } }).cause?.details).toBe('invalid query: unknown search attribute NoSuchField');
    await a.terminate();
    await b.terminate();
  });

  it('fails a task that completes while a signal arrived (UnhandledCommand), and the signal is not lost', async () => {
    const handle = await env.client.workflow.start('busy', { taskQueue, workflowId: id('unhandled') });
    for (let i = 0; i < 200; i++) {
      const d = await env.client.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId: handle.workflowId } });
      if (d.pendingWorkflowTask?.state === 2) break; // STARTED: the worker is busy with it
      await new Promise((r) => setTimeout(r, 5));
    }
    await handle.signal('bump', 1);
    expect(await handle.result()).toBe(1);
    const history = await handle.fetchHistory();
    expect(history.events?.some((e) => e.workflowTaskFailedEventAttributes?.cause === 1)).toBe(true); // UNHANDLED_COMMAND
  });

  it('records a failed workflow task and retries it', async () => {
    const handle = await env.client.workflow.start('brokenTask', { taskQueue, workflowId: id('broken-task') });
    let failures = 0;
    let attempt = 0;
    for (let i = 0; i < 200 && (failures < 1 || attempt < 2); i++) {
      const history = await handle.fetchHistory();
      failures = history.events?.filter((e) => e.workflowTaskFailedEventAttributes).length ?? 0;
      const d = await env.client.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId: handle.workflowId } });
      attempt = d.pendingWorkflowTask?.attempt ?? 0;
      await new Promise((r) => setTimeout(r, 20));
    }
    // The core reports the first failure; later attempts are retried by the server (and time out if the worker stays silent).
    expect(failures).toBe(1);
    expect(attempt).toBeGreaterThanOrEqual(2);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('test over');
  });

  it('falls back from a dead sticky queue to the normal queue after the schedule-to-start timeout', async () => {
    const stickyQueue = 'sticky-fallback';
    const first = await Worker.create({ connection: env.nativeConnection, taskQueue: stickyQueue, workflowsPath, activities, stickyQueueScheduleToStartTimeout: '500ms' });
    const handle = await first.runUntil(async () => {
      const h = await env.client.workflow.start('counter', { taskQueue: stickyQueue, workflowId: id('sticky') });
      // The signal must come after the first task completed (which makes the queue sticky), not ride along in it.
      for (let i = 0; i < 200 && !(await h.fetchHistory()).events?.some((e) => e.workflowTaskCompletedEventAttributes); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await h.signal('bump', 1);
      expect(await h.query('count')).toBe(1);
      return h;
    });
    // The first worker is gone; its sticky queue has no poller. The next task must reach this one.
    const second = await Worker.create({ connection: env.nativeConnection, taskQueue: stickyQueue, workflowsPath, activities });
    const result = await second.runUntil(async () => {
      await handle.signal('bump', 2);
      await handle.signal('done');
      return handle.result();
    });
    expect(result).toBe(3);
    const history = await handle.fetchHistory();
    const scheduledOn = history.events?.filter((e) => e.workflowTaskScheduledEventAttributes).map((e) => e.workflowTaskScheduledEventAttributes!.taskQueue!.kind);
    expect(scheduledOn).toContain(2); // TASK_QUEUE_KIND_STICKY was used while the first worker lived
  });

  it('sleeps 3 years with monthly timers in virtual time', async () => {
    const before = await env.currentTimeMs();
    const result = await env.client.workflow.execute('monthlyFor3Years', { taskQueue, workflowId: id('three-years') });
    const after = await env.currentTimeMs();
    expect(result.wakes).toBe(36);
    expect(result.endedAt - result.startedAt).toBe(36 * 30 * 24 * 3600_000 + (result.endedAt - result.startedAt) % 1000);
    expect(after - before).toBeGreaterThanOrEqual(36 * 30 * 24 * 3600_000);
  });

  it('advances virtual time while an activity sleeps (UnlockTimeSkippingWithSleep), so a workflow timer fires meanwhile', async () => {
    // A test's mocked activity sleeps two virtual days; the workflow's one-day timer must fire
    // while the activity still runs, as on Temporal's Java test server.
    const sleepingQueue = 'conformance-activity-sleep';
    const sleepingWorker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: sleepingQueue,
      workflowsPath,
      activities: {
        async twoDayJob() {
          await env.sleep('2 days');
          return 'done';
        },
      },
    });
    const before = await env.currentTimeMs();
    const result = await sleepingWorker.runUntil(env.client.workflow.execute('timerDuringActivity', { taskQueue: sleepingQueue, workflowId: id('activity-sleep') }));
    expect(result.order).toEqual(['timer', 'activity:done']);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(2 * 86_400_000);
    expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(2 * 86_400_000);
  });

  it('refuses start options it does not implement (cronSchedule, completion callbacks) and keeps the static summary', async () => {
    const cronId = `cron-${randomUUID().slice(0, 8)}`;
    await expect(env.client.workflow.start('counter', { taskQueue, workflowId: cronId, cronSchedule: '0 8 * * *' })).rejects.toMatchObject({ cause: { code: status.INVALID_ARGUMENT, details: expect.stringMatching(/cronSchedule is not supported/) } });
    await expect(env.client.workflow.getHandle(cronId).describe()).rejects.toThrow(WorkflowNotFoundError);
    await expect(
      env.client.workflowService.startWorkflowExecution({
        namespace: 'default',
        workflowId: `callbacks-${randomUUID().slice(0, 8)}`,
        workflowType: { name: 'counter' },
        taskQueue: { name: taskQueue },
        requestId: randomUUID(),
        completionCallbacks: [{ nexus: { url: 'http://127.0.0.1:1/callback' } }],
      }),
    ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/completionCallbacks/) });

    const handle = await env.client.workflow.start('counter', { taskQueue, workflowId: id('summary'), staticSummary: 'a family pathway' });
    await handle.signal('done');
    await handle.result();
    const { events } = await handle.fetchHistory();
    expect(events?.[0].userMetadata?.summary?.data).toBeDefined();
    expect(Buffer.from(events![0].userMetadata!.summary!.data!).toString()).toContain('a family pathway');
  });

  it('starts a workflow eagerly: the first workflow task comes back in the start answer to the worker on the same connection', async () => {
    await expect(env.client.workflowService.getSystemInfo({})).resolves.toHaveProperty('capabilities.eagerWorkflowStart', true);
    // Eager start needs a client on the worker's own connection: the SDK core reserves a task slot for it.
    const sameConnection = new Client({ connection: env.nativeConnection });
    const eager = await sameConnection.workflow.start('greet', { taskQueue, workflowId: id('eager'), args: ['eager'], requestEagerStart: true });
    expect(eager.eagerlyStarted).toBe(true);
    expect(await eager.result()).toBe('Hello, eager!');
    const { events } = await eager.fetchHistory();
    // Started, task scheduled, task started (with the start), task completed: no poll in between.
    expect(events!.slice(0, 4).map((e) => e.eventType)).toEqual([
      temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
      temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
      temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    ]);
    const polled = await sameConnection.workflow.start('greet', { taskQueue, workflowId: id('not-eager'), args: ['polled'] });
    expect(polled.eagerlyStarted).toBe(false);
    expect(await polled.result()).toBe('Hello, polled!');
    // A start delay keeps the first task back: no eager task even when asked for.
    const delayed = await sameConnection.workflow.start('greet', { taskQueue, workflowId: id('eager-delayed'), args: ['later'], requestEagerStart: true, startDelay: '1 hour' });
    expect(delayed.eagerlyStarted).toBe(false);
    // The time-skipping client unlocks virtual time while it waits, so the hour passes at once.
    expect(await env.client.workflow.getHandle(delayed.workflowId).result()).toBe('Hello, later!');
  });

  it('answers errors as the SDK expects them', async () => {
    await expect(env.client.workflow.getHandle('missing').signal('bump', 1)).rejects.toThrow(WorkflowNotFoundError);
    await expect(env.client.workflowService.getSystemInfo({})).resolves.toHaveProperty('capabilities.sdkMetadata', true);
    await expect(env.client.workflowService.describeNamespace({ namespace: 'nope' })).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(env.client.workflowService.listSchedules({ namespace: 'default' })).rejects.toMatchObject({ code: status.UNIMPLEMENTED, details: expect.stringMatching(/unknown method/) });
  });

  it('registers namespaces and search attributes', async () => {
    await env.client.workflowService.registerNamespace({ namespace: 'kommune-a', workflowExecutionRetentionPeriod: { seconds: 86400 as never } });
    const described = await env.client.workflowService.describeNamespace({ namespace: 'kommune-a' });
    expect(described.namespaceInfo?.name).toBe('kommune-a');
    await env.client.connection.operatorService.addSearchAttributes({ namespace: 'default', searchAttributes: { HandoffState: 2 as never } });
    const listed = await env.client.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(listed.customAttributes).toMatchObject({ HandoffState: 2, FamilyPhase: 2, Overdue: 3 });
  });

  afterAll(async () => {
    // Every history this suite produced replays without nondeterminism.
    const histories = [];
    for (const { workflowId } of produced) {
      const handle = env.client.workflow.getHandle(workflowId);
      const history = await handle.fetchHistory();
      histories.push({ workflowId, history });
      saveHistoryFixture(workflowId, history);
    }
    const results = Worker.runReplayHistories({ workflowsPath, replayName: 'conformance' }, histories);
    const failures: string[] = [];
    let replayed = 0;
    for await (const r of results) {
      replayed++;
      if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(produced.length);
  });
});
