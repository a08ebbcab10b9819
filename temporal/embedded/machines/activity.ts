/**
 * Activity tasks (Temporal's activity state machine): scheduled by a
 * ScheduleActivityTask command, queued, started by a poll (or handed back
 * eagerly to the completing worker), heartbeated, then completed, failed,
 * cancelled or timed out (schedule-to-start, start-to-close, heartbeat,
 * schedule-to-close). Retries happen here, on the server, and do not appear
 * in history: ActivityTaskStarted (with the attempt) is written just before
 * the closing event. Owns `exec.activities` and their clock entries.
 */
import { randomUUID } from 'node:crypto';
import type { ActivityTaskRef, Core, Machine } from '../core';
import { invalidArgument, notFound } from '../errors';
import type { ActivityState, Execution } from '../model';
import { duration, durationMs, enums, timestamp, type Msg } from '../proto';
import { retryDelay, withRetryDefaults } from '../retry-policy';
import { parseToken, token } from '../task-token';

const ET = enums.EventType;
const WS = enums.WorkflowExecutionStatus;

export class Activities implements Machine {
  constructor(private readonly core: Core) {}

  schedule(exec: Execution, completedId: number, a: Msg, identity: string, eagerTasks?: Msg[]): void {
    if (!a.activityId || !a.activityType?.name) throw invalidArgument('ScheduleActivityTask needs an activity id and type');
    const taskQueue = a.taskQueue?.name || exec.taskQueue;
    let scheduleToCloseMs = durationMs(a.scheduleToCloseTimeout);
    let startToCloseMs = durationMs(a.startToCloseTimeout);
    let scheduleToStartMs = durationMs(a.scheduleToStartTimeout);
    const runLeft = exec.runTimeoutMs > 0 ? exec.startTime + exec.runTimeoutMs - this.core.clock.now() : 0;
    if (scheduleToCloseMs === 0 && runLeft > 0) scheduleToCloseMs = runLeft;
    if (startToCloseMs === 0) startToCloseMs = scheduleToCloseMs;
    if (startToCloseMs === 0) throw invalidArgument('an activity needs a StartToClose or ScheduleToClose timeout');
    if (scheduleToStartMs === 0 || (scheduleToCloseMs > 0 && scheduleToStartMs > scheduleToCloseMs)) scheduleToStartMs = scheduleToCloseMs;
    const retryPolicy = withRetryDefaults(a.retryPolicy);
    const ev = this.core.appendEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, 'activityTaskScheduledEventAttributes', {
      activityId: a.activityId,
      activityType: a.activityType,
      taskQueue: { name: taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      header: a.header,
      input: a.input,
      scheduleToCloseTimeout: duration(scheduleToCloseMs),
      scheduleToStartTimeout: duration(scheduleToStartMs),
      startToCloseTimeout: duration(startToCloseMs),
      heartbeatTimeout: a.heartbeatTimeout,
      workflowTaskCompletedEventId: completedId,
      retryPolicy,
    });
    const now = this.core.clock.now();
    const activity: ActivityState = {
      scheduledEventId: ev.eventId,
      activityId: a.activityId,
      activityType: a.activityType.name,
      taskQueue,
      header: a.header,
      input: a.input,
      attempt: 1,
      retryPolicy,
      scheduleToCloseMs,
      scheduleToStartMs,
      startToCloseMs,
      heartbeatMs: durationMs(a.heartbeatTimeout),
      scheduledAt: now,
      attemptScheduledAt: now,
      state: 'scheduled',
      startedAt: 0,
      lastHeartbeatAt: 0,
      cancelRequested: false,
      cancelRequestedEventId: 0,
      seq: this.core.nextSeq(),
    };
    exec.activities[ev.eventId] = activity;
    this.armScheduleToClose(exec, activity);
    if (a.requestEagerExecution && taskQueue === exec.taskQueue && eagerTasks) {
      // The completing worker reserved a slot: hand the task back in the response, no poll needed.
      const task = this.claim({ key: exec.key, scheduledEventId: ev.eventId, seq: activity.seq }, identity);
      if (task) {
        eagerTasks.push(task);
        return;
      }
    }
    this.dispatch(exec, activity);
  }

  private dispatch(exec: Execution, activity: ActivityState): void {
    activity.state = 'scheduled';
    activity.seq = this.core.nextSeq();
    this.core.activityQueues.push(`${exec.namespace}/${activity.taskQueue}`, { key: exec.key, scheduledEventId: activity.scheduledEventId, seq: activity.seq });
    if (activity.scheduleToStartMs > 0 && activity.scheduleToStartMs < activity.scheduleToCloseMs) {
      const seq = activity.seq;
      this.core.schedule(`act-s2s/${exec.key}/${activity.scheduledEventId}`, this.core.clock.now() + activity.scheduleToStartMs, () => {
        if (activity.state === 'scheduled' && activity.seq === seq) this.timeOut(exec, activity, enums.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START);
      });
    }
  }

  claim(ref: ActivityTaskRef, identity: string): Msg | undefined {
    const exec = this.core.executions.get(ref.key);
    const activity = exec?.activities[ref.scheduledEventId];
    if (!exec || !activity || activity.state !== 'scheduled' || activity.seq !== ref.seq || exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return undefined;
    const now = this.core.clock.now();
    activity.state = 'started';
    activity.startedAt = now;
    activity.lastHeartbeatAt = now;
    activity.startedIdentity = identity;
    activity.seq = this.core.nextSeq();
    this.core.cancelScheduled(`act-s2s/${exec.key}/${activity.scheduledEventId}`);
    this.armAttempt(exec, activity);
    this.armHeartbeat(exec, activity);
    this.core.dirty.add(exec.key);
    return {
      taskToken: token({ k: exec.key, a: activity.scheduledEventId, q: activity.seq }),
      workflowNamespace: exec.namespace,
      workflowType: { name: exec.workflowType },
      workflowExecution: { workflowId: exec.workflowId, runId: exec.runId },
      activityType: { name: activity.activityType },
      activityId: activity.activityId,
      header: activity.header,
      input: activity.input,
      heartbeatDetails: activity.heartbeatDetails,
      scheduledTime: timestamp(activity.scheduledAt),
      currentAttemptScheduledTime: timestamp(activity.attemptScheduledAt),
      startedTime: timestamp(now),
      attempt: activity.attempt,
      scheduleToCloseTimeout: duration(activity.scheduleToCloseMs),
      startToCloseTimeout: duration(activity.startToCloseMs),
      heartbeatTimeout: duration(activity.heartbeatMs),
      retryPolicy: activity.retryPolicy,
    };
  }

  private armAttempt(exec: Execution, activity: ActivityState): void {
    const seq = activity.seq;
    this.core.schedule(`act-s2c-attempt/${exec.key}/${activity.scheduledEventId}`, activity.startedAt + activity.startToCloseMs, () => {
      if (activity.state === 'started' && activity.seq === seq) this.timeOut(exec, activity, enums.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE);
    });
  }

  private armScheduleToClose(exec: Execution, activity: ActivityState): void {
    if (activity.scheduleToCloseMs <= 0) return;
    this.core.schedule(`act-s2c/${exec.key}/${activity.scheduledEventId}`, activity.scheduledAt + activity.scheduleToCloseMs, () =>
      this.timeOut(exec, activity, enums.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE),
    );
  }

  private armHeartbeat(exec: Execution, activity: ActivityState): void {
    if (activity.heartbeatMs <= 0) return;
    const seq = activity.seq;
    this.core.schedule(`act-hb/${exec.key}/${activity.scheduledEventId}`, activity.lastHeartbeatAt + activity.heartbeatMs, () => {
      if (activity.state === 'started' && activity.seq === seq) this.timeOut(exec, activity, enums.TimeoutType.TIMEOUT_TYPE_HEARTBEAT);
    });
  }

  private fromToken(taskToken: Buffer | undefined): { exec: Execution; activity: ActivityState } {
    const t = parseToken(taskToken);
    const exec = t && typeof t.k === 'string' ? this.core.executions.get(t.k) : undefined;
    const activity = exec && typeof t!.a === 'number' ? exec.activities[t!.a] : undefined;
    if (!exec || !activity || activity.state !== 'started' || activity.seq !== t!.q || exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) {
      throw notFound('activity task not found: it timed out, was cancelled, the workflow closed, or the task token is stale');
    }
    return { exec, activity };
  }

  heartbeat(req: Msg): { cancelRequested: boolean } {
    const { exec, activity } = this.fromToken(req.taskToken);
    activity.heartbeatDetails = req.details;
    activity.lastHeartbeatAt = this.core.clock.now();
    this.armHeartbeat(exec, activity);
    this.core.dirty.add(exec.key);
    return { cancelRequested: activity.cancelRequested };
  }

  private writeActivityStarted(exec: Execution, activity: ActivityState): Msg {
    return this.core.addEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_STARTED, 'activityTaskStartedEventAttributes', {
      scheduledEventId: activity.scheduledEventId,
      identity: activity.startedIdentity,
      requestId: randomUUID(),
      attempt: activity.attempt,
      lastFailure: activity.lastFailure,
    });
  }

  /** Writes an activity's closing event pointing at its started event (whose id may be assigned only on flush). */
  private addClosingEvent(exec: Execution, eventType: number, attrName: string, attrs: Msg, started: Msg | undefined): void {
    const event = this.core.addEvent(exec, eventType, attrName, { ...attrs, startedEventId: started?.eventId ?? 0 });
    if (started && started.eventId === undefined) event.fixStartedFrom = started;
  }

  private finish(exec: Execution, activity: ActivityState): void {
    delete exec.activities[activity.scheduledEventId];
    for (const prefix of ['act-s2c', 'act-s2s', 'act-s2c-attempt', 'act-hb', 'act-retry']) this.core.cancelScheduled(`${prefix}/${exec.key}/${activity.scheduledEventId}`);
  }

  complete(req: Msg): void {
    const { exec, activity } = this.fromToken(req.taskToken);
    const started = this.writeActivityStarted(exec, activity);
    this.finish(exec, activity);
    this.addClosingEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, 'activityTaskCompletedEventAttributes', {
      result: req.result,
      scheduledEventId: activity.scheduledEventId,
      identity: req.identity,
    }, started);
    this.core.scheduleWorkflowTask(exec);
  }

  fail(req: Msg): void {
    const { exec, activity } = this.fromToken(req.taskToken);
    const failure = req.failure ?? { message: 'activity failed' };
    if (req.lastHeartbeatDetails) activity.heartbeatDetails = req.lastHeartbeatDetails;
    const retryState = this.retry(exec, activity, failure, false);
    if (retryState === 'retrying') return;
    const started = this.writeActivityStarted(exec, activity);
    this.finish(exec, activity);
    this.addClosingEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_FAILED, 'activityTaskFailedEventAttributes', {
      failure,
      scheduledEventId: activity.scheduledEventId,
      identity: req.identity,
      retryState,
    }, started);
    this.core.scheduleWorkflowTask(exec);
  }

  canceled(req: Msg): void {
    const { exec, activity } = this.fromToken(req.taskToken);
    const started = this.writeActivityStarted(exec, activity);
    this.finish(exec, activity);
    this.addClosingEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_CANCELED, 'activityTaskCanceledEventAttributes', {
      details: req.details,
      latestCancelRequestedEventId: activity.cancelRequestedEventId,
      scheduledEventId: activity.scheduledEventId,
      identity: req.identity,
    }, started);
    this.core.scheduleWorkflowTask(exec);
  }

  /**
   * Decides whether a failed attempt is retried (server side, invisible in
   * history) and arms the backoff; returns 'retrying' or the RetryState why not.
   */
  private retry(exec: Execution, activity: ActivityState, failure: Msg, timeout: boolean): 'retrying' | number {
    const policy = activity.retryPolicy;
    const RS = enums.RetryState;
    const app = failure.applicationFailureInfo;
    if (!timeout && app?.nonRetryable) return RS.RETRY_STATE_NON_RETRYABLE_FAILURE;
    if (!timeout && app?.type && (policy.nonRetryableErrorTypes ?? []).includes(app.type)) return RS.RETRY_STATE_NON_RETRYABLE_FAILURE;
    const max = Number(policy.maximumAttempts ?? 0);
    if (max > 0 && activity.attempt >= max) return RS.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED;
    let delay = retryDelay(policy, activity.attempt);
    const nextDelay = durationMs(app?.nextRetryDelay);
    if (nextDelay > 0) delay = nextDelay;
    const now = this.core.clock.now();
    if (activity.scheduleToCloseMs > 0 && now + delay >= activity.scheduledAt + activity.scheduleToCloseMs) return RS.RETRY_STATE_TIMEOUT;
    activity.lastFailure = failure;
    activity.attempt++;
    activity.state = 'backoff';
    activity.retryAt = now + delay;
    activity.seq = this.core.nextSeq();
    this.core.cancelScheduled(`act-s2c-attempt/${exec.key}/${activity.scheduledEventId}`);
    this.core.cancelScheduled(`act-hb/${exec.key}/${activity.scheduledEventId}`);
    this.armRetry(exec, activity);
    this.core.touch(exec);
    return 'retrying';
  }

  private armRetry(exec: Execution, activity: ActivityState): void {
    this.core.schedule(`act-retry/${exec.key}/${activity.scheduledEventId}`, activity.retryAt ?? this.core.clock.now(), () => {
      if (exec.activities[activity.scheduledEventId] !== activity || exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return;
      activity.attemptScheduledAt = this.core.clock.now();
      activity.retryAt = undefined;
      this.dispatch(exec, activity);
      this.core.touch(exec);
    });
  }

  private timeOut(exec: Execution, activity: ActivityState, timeoutType: number): void {
    if (exec.activities[activity.scheduledEventId] !== activity || exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return;
    const TT = enums.TimeoutType;
    const failure: Msg = {
      message: `activity ${TT[timeoutType]?.replace('TIMEOUT_TYPE_', '') ?? 'timeout'} timeout`,
      source: 'Server',
      timeoutFailureInfo: { timeoutType, lastHeartbeatDetails: activity.heartbeatDetails },
    };
    let retryState: number | 'retrying' = enums.RetryState.RETRY_STATE_TIMEOUT;
    if (timeoutType === TT.TIMEOUT_TYPE_START_TO_CLOSE || timeoutType === TT.TIMEOUT_TYPE_HEARTBEAT) {
      retryState = this.retry(exec, activity, failure, true);
      if (retryState === 'retrying') return;
    } else if (timeoutType === TT.TIMEOUT_TYPE_SCHEDULE_TO_START) {
      retryState = enums.RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE;
    }
    if (activity.lastFailure) failure.cause = activity.lastFailure;
    const started = activity.state === 'started' ? this.writeActivityStarted(exec, activity) : undefined;
    this.finish(exec, activity);
    this.addClosingEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, 'activityTaskTimedOutEventAttributes', {
      failure,
      scheduledEventId: activity.scheduledEventId,
      retryState,
    }, started);
    this.core.scheduleWorkflowTask(exec);
  }

  requestCancel(exec: Execution, completedId: number, scheduledEventId: number): void {
    const activity = exec.activities[scheduledEventId];
    const ev = this.core.appendEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED, 'activityTaskCancelRequestedEventAttributes', {
      scheduledEventId,
      workflowTaskCompletedEventId: completedId,
    });
    if (!activity) return;
    if (activity.state === 'started') {
      activity.cancelRequested = true;
      activity.cancelRequestedEventId = ev.eventId;
      return;
    }
    // Not with a worker: cancelled at once.
    this.finish(exec, activity);
    this.core.activityQueues.remove(`${exec.namespace}/${activity.taskQueue}`, (t) => t.key === exec.key && t.scheduledEventId === scheduledEventId);
    this.core.addEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_CANCELED, 'activityTaskCanceledEventAttributes', {
      latestCancelRequestedEventId: ev.eventId,
      scheduledEventId,
      startedEventId: 0,
      identity: 'forlop-embedded-temporal',
    });
  }

  rearm(exec: Execution): void {
    for (const activity of Object.values(exec.activities)) {
      this.armScheduleToClose(exec, activity);
      if (activity.state === 'scheduled') this.dispatch(exec, activity);
      else if (activity.state === 'backoff') this.armRetry(exec, activity);
      else {
        this.armAttempt(exec, activity);
        this.armHeartbeat(exec, activity);
      }
    }
  }

  /** An activity with a worker or in a queue holds time skipping; one waiting to retry does not. */
  busy(exec: Execution): number {
    let n = 0;
    for (const a of Object.values(exec.activities)) if (a.state !== 'backoff') n++;
    return n;
  }

  close(exec: Execution): void {
    for (const activity of Object.values(exec.activities)) this.finish(exec, activity);
  }
}
