/**
 * The workflow task state machine (Temporal's workflow task manager):
 * none → scheduled (WorkflowTaskScheduled, queued on the normal or sticky
 * queue) → started (WorkflowTaskStarted, with a worker) → completed, failed
 * or timed out. Sticky queues with their schedule-to-start fallback, the
 * first task after a start delay, retries after failures. Owns `exec.wft`,
 * the sticky queue and the held-back events' release; the commands a
 * completion carries are applied by commands.ts.
 */
import { randomUUID } from 'node:crypto';
import type { Core, Machine, WorkflowTaskRef, WorkflowTaskScheduler } from '../core';
import { notFound } from '../errors';
import type { Execution } from '../model';
import { duration, durationMs, enums, timestamp, type Msg } from '../proto';
import { parseToken, token } from '../task-token';
import type { Queries } from './query';
import type { Updates } from './update';

const ET = enums.EventType;
const WS = enums.WorkflowExecutionStatus;

export class WorkflowTasks implements Machine, WorkflowTaskScheduler {
  constructor(
    private readonly core: Core,
    private readonly queries: Queries,
    private readonly updates: Updates,
  ) {}

  /** Schedules the first workflow task, after any start delay or backoff. */
  kickOff(exec: Execution): void {
    if (exec.firstTaskAt > this.core.clock.now()) {
      this.core.schedule(`first-task/${exec.key}`, exec.firstTaskAt, () => {
        if (exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING) this.scheduleWorkflowTask(exec);
      });
    } else {
      this.scheduleWorkflowTask(exec);
    }
  }

  scheduleWorkflowTask(exec: Execution): void {
    this.schedule(exec, true);
  }

  /**
   * Eager workflow start: schedules a new run's first task and starts it at
   * once for the caller's worker, never through a queue (a waiting poller
   * would take it). Undefined when the first task waits for a start delay.
   */
  startEagerly(exec: Execution, identity: string): Msg | undefined {
    if (exec.wft.state !== 0 || exec.firstTaskAt > this.core.clock.now()) return undefined;
    this.schedule(exec, false);
    return this.claim({ kind: 'workflow', key: exec.key, seq: exec.wft.seq }, identity);
  }

  private schedule(exec: Execution, dispatch: boolean): void {
    if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return;
    if (exec.wft.state !== 0) return; // a started task picks up new events on completion
    if (exec.firstTaskAt > this.core.clock.now()) return;
    const attempt = exec.wft.attempt > 0 && exec.wft.scheduledEventId === -1 ? exec.wft.attempt : 1;
    const sticky = Boolean(exec.stickyQueue);
    const queue = exec.stickyQueue ?? exec.taskQueue;
    const ev = this.core.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, 'workflowTaskScheduledEventAttributes', {
      taskQueue: { name: queue, kind: sticky ? enums.TaskQueueKind.TASK_QUEUE_KIND_STICKY : enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL, normalName: sticky ? exec.taskQueue : undefined },
      startToCloseTimeout: duration(exec.workflowTaskTimeoutMs),
      attempt,
    });
    exec.wft = { ...exec.wft, state: 1, scheduledEventId: ev.eventId, startedEventId: 0, attempt, queue, sticky, scheduledAt: this.core.clock.now(), seq: this.core.nextSeq() };
    if (dispatch) this.dispatch(exec);
  }

  private dispatch(exec: Execution): void {
    const ref: WorkflowTaskRef = { kind: 'workflow', key: exec.key, seq: exec.wft.seq };
    this.core.workflowQueues.push(`${exec.namespace}/${exec.wft.queue}`, ref);
    if (exec.wft.sticky && exec.stickyTimeoutMs > 0) {
      // Sticky schedule-to-start timeout: fall back to the normal queue with full history.
      const seq = exec.wft.seq;
      this.core.schedule(`sticky/${exec.key}`, this.core.clock.now() + exec.stickyTimeoutMs, () => {
        if (exec.wft.state !== 1 || exec.wft.seq !== seq) return;
        exec.stickyQueue = undefined;
        exec.wft = { ...exec.wft, queue: exec.taskQueue, sticky: false, seq: this.core.nextSeq() };
        this.dispatch(exec);
        this.core.touch(exec);
      });
    }
  }

  /** A worker that shut down: executions sticky to its queue fall back to their normal queue. */
  dropStickyQueue(namespace: string, queue: string): void {
    for (const key of this.core.running) {
      const exec = this.core.executions.get(key)!;
      if (exec.namespace !== namespace || exec.stickyQueue !== queue) continue;
      exec.stickyQueue = undefined;
      if (exec.wft.state === 1 && exec.wft.sticky) {
        this.core.cancelScheduled(`sticky/${exec.key}`);
        exec.wft = { ...exec.wft, queue: exec.taskQueue, sticky: false, seq: this.core.nextSeq() };
        this.dispatch(exec);
      }
      this.core.touch(exec);
    }
  }

  /** Claims a queued workflow task for a poll: writes WorkflowTaskStarted and builds the response. */
  claim(ref: WorkflowTaskRef, identity: string): Msg | undefined {
    if (ref.kind === 'query') return this.queries.claim(ref.id);
    const exec = this.core.executions.get(ref.key);
    if (!exec || exec.wft.state !== 1 || exec.wft.seq !== ref.seq || exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return undefined;
    this.core.cancelScheduled(`sticky/${exec.key}`);
    const started = this.core.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_TASK_STARTED, 'workflowTaskStartedEventAttributes', {
      scheduledEventId: exec.wft.scheduledEventId,
      identity,
      requestId: randomUUID(),
    });
    const now = this.core.clock.now();
    exec.wft = { ...exec.wft, state: 2, startedEventId: started.eventId, startedAt: now, seq: this.core.nextSeq() };
    this.armTimeout(exec);
    const firstEvent = exec.wft.sticky ? exec.previousStartedEventId + 1 : 1;
    const queries = this.queries.riding(exec);
    const messages = this.updates.messagesForTask(exec, started.eventId);
    return {
      taskToken: token({ k: exec.key, q: exec.wft.seq }),
      workflowExecution: { workflowId: exec.workflowId, runId: exec.runId },
      workflowType: { name: exec.workflowType },
      previousStartedEventId: exec.previousStartedEventId,
      startedEventId: started.eventId,
      attempt: exec.wft.attempt,
      history: { events: exec.history.slice(firstEvent - 1) },
      workflowExecutionTaskQueue: { name: exec.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      scheduledTime: timestamp(exec.wft.scheduledAt),
      startedTime: timestamp(now),
      queries,
      messages: messages.length > 0 ? messages : undefined,
    };
  }

  private armTimeout(exec: Execution): void {
    const seq = exec.wft.seq;
    this.core.schedule(`wft-timeout/${exec.key}`, exec.wft.startedAt + exec.workflowTaskTimeoutMs, () => this.timeOut(exec, seq));
  }

  /** The execution whose started task a token names; NOT_FOUND when the token is stale. */
  fromToken(taskToken: Buffer | undefined): Execution {
    const t = parseToken(taskToken);
    const exec = t && typeof t.k === 'string' ? this.core.executions.get(t.k) : undefined;
    if (!exec || exec.wft.state !== 2 || exec.wft.seq !== t!.q) {
      throw notFound('workflow task not found: it timed out, the workflow was closed, or the task token is stale');
    }
    return exec;
  }

  /** Writes WorkflowTaskCompleted (with the worker's sdkMetadata) and takes the sticky queue; returns its event id. */
  recordCompleted(exec: Execution, req: Msg): number {
    this.core.cancelScheduled(`wft-timeout/${exec.key}`);
    const completed = this.core.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 'workflowTaskCompletedEventAttributes', {
      scheduledEventId: exec.wft.scheduledEventId,
      startedEventId: exec.wft.startedEventId,
      identity: req.identity,
      sdkMetadata: req.sdkMetadata,
      meteringMetadata: req.meteringMetadata,
    });
    exec.previousStartedEventId = exec.wft.startedEventId;
    if (req.stickyAttributes?.workerTaskQueue?.name) {
      exec.stickyQueue = req.stickyAttributes.workerTaskQueue.name;
      exec.stickyTimeoutMs = durationMs(req.stickyAttributes.scheduleToStartTimeout) || 5000;
    } else {
      exec.stickyQueue = undefined;
    }
    return completed.eventId;
  }

  /** After a completion's commands: releases held-back events and schedules the next task if there is new work. */
  finishCompleted(exec: Execution, forceNewTask: boolean): void {
    const taskQueries = exec.wft.queries;
    exec.wft = { ...exec.wft, state: 0, queries: [], attempt: 0 };
    const flushed = this.core.flushBuffered(exec);
    this.updates.unsent(exec);
    if (exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING) {
      const needsTask = flushed > 0 || forceNewTask || this.updates.hasNew(exec);
      if (needsTask) this.scheduleWorkflowTask(exec);
    }
    this.queries.requeue(exec, taskQueries);
    this.core.touch(exec);
  }

  fail(req: Msg): void {
    const exec = this.fromToken(req.taskToken);
    this.failInternal(exec, req.cause || enums.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED, req.failure, req.identity, 'worker');
  }

  failInternal(exec: Execution, cause: number, failure: Msg | undefined, identity: string | undefined, by: 'worker' | 'server'): void {
    this.core.cancelScheduled(`wft-timeout/${exec.key}`);
    this.core.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_TASK_FAILED, 'workflowTaskFailedEventAttributes', {
      scheduledEventId: exec.wft.scheduledEventId,
      startedEventId: exec.wft.startedEventId,
      cause,
      failure,
      identity: by === 'worker' ? identity : 'forlop-embedded-temporal',
    });
    this.retry(exec, by === 'worker');
  }

  private timeOut(exec: Execution, seq: number): void {
    if (exec.wft.state !== 2 || exec.wft.seq !== seq) return;
    this.core.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT, 'workflowTaskTimedOutEventAttributes', {
      scheduledEventId: exec.wft.scheduledEventId,
      startedEventId: exec.wft.startedEventId,
      timeoutType: enums.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE,
    });
    this.retry(exec, true);
  }

  /** After a failed or timed-out task: forget stickiness, deliver held events, try again. */
  private retry(exec: Execution, backoff: boolean): void {
    const attempt = exec.wft.attempt + 1;
    const taskQueries = exec.wft.queries;
    exec.stickyQueue = undefined;
    exec.wft = { ...exec.wft, state: 0, queries: [], attempt, scheduledEventId: -1 };
    this.core.flushBuffered(exec);
    this.updates.unsent(exec);
    // A worker that keeps failing the same task (e.g. nondeterminism) is retried
    // with a growing pause, so a broken deployment does not spin the server.
    const delay = backoff && attempt > 2 ? Math.min(10_000, 1000 * (attempt - 2)) : 0;
    if (delay > 0) {
      this.core.schedule(`wft-retry/${exec.key}`, this.core.clock.now() + delay, () => this.scheduleWorkflowTask(exec));
    } else {
      this.scheduleWorkflowTask(exec);
    }
    this.queries.requeue(exec, taskQueries);
    this.core.touch(exec);
  }

  rearm(exec: Execution): void {
    if (exec.wft.state === 2) this.armTimeout(exec);
    else if (exec.wft.state === 1) this.dispatch(exec);
    else if (exec.wft.scheduledEventId <= 0) this.kickOff(exec); // never scheduled (start delay) or a retry pending
  }

  busy(exec: Execution): number {
    return exec.wft.state !== 0 ? 1 : 0;
  }

  close(exec: Execution): void {
    exec.wft = { ...exec.wft, state: 0 };
    exec.buffered = [];
    exec.stickyQueue = undefined;
    for (const name of ['wft-timeout', 'sticky', 'wft-retry', 'first-task']) this.core.cancelScheduled(`${name}/${exec.key}`);
  }
}
