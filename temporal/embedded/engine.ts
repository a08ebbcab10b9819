/**
 * The embedded server's engine: workflow executions, their histories and the
 * state machines Temporal's history service runs for them (workflow tasks,
 * activities, timers, children, signals, cancellation, updates, queries).
 *
 * Every mutation is synchronous, so one RPC's changes are applied as a unit;
 * the service then commits the touched executions through the storage
 * interface before it answers. Semantics follow Temporal's server and its
 * Java test server (temporalio/sdk-java, temporal-test-server); the shapes the
 * TypeScript SDK core insists on are listed in docs/embedded-temporal.md.
 */
import { randomUUID } from 'node:crypto';
import { VirtualClock } from './clock';
import { alreadyExists, AlreadyStarted, invalidArgument, notFound, RpcError } from './errors';

export { AlreadyStarted } from './errors';
import type { ActivityState, Execution, NamespaceRecord, UpdateState } from './model';
import type { Snapshot } from './storage';
import { decodeEvents, duration, durationMs, encodeEvents, enums, packAny, timestamp, unpackAny, type Msg } from './proto';
import { retryDelay, withRetryDefaults } from './retry-policy';
import { parseToken, token } from './task-token';
import * as queryTasks from './queries';
import type { PendingQuery } from './queries';
import { TaskQueues } from './task-queues';
import { applyParentClosePolicies, cancelExternal, launchChild, notifyParent, signalExternal, startChild } from './children';
import { status as grpcStatus } from '@grpc/grpc-js';

const ET = enums.EventType;
const CT = enums.CommandType;
const WS = enums.WorkflowExecutionStatus;

const DEFAULT_WFT_TIMEOUT = 10_000;
const TERMINAL_COMMANDS = new Set<number>([
  CT.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
  CT.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION,
  CT.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION,
  CT.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION,
]);

export type WorkflowTaskRef = { kind: 'workflow'; key: string; seq: number } | { kind: 'query'; id: string };
export type ActivityTaskRef = { key: string; scheduledEventId: number; seq: number };


export interface EngineOptions {
  timeSkipping: boolean;
  /** Virtual time at start (ms since the epoch); default now. */
  startTime?: number;
  namespaces: string[];
  searchAttributes: Record<string, number>;
  log?: (msg: string, fields?: object) => void;
}

export class Engine {
  readonly clock: VirtualClock;
  readonly workflowQueues = new TaskQueues<WorkflowTaskRef>();
  readonly activityQueues = new TaskQueues<ActivityTaskRef>();
  readonly executions = new Map<string, Execution>();
  /** namespace/workflowId -> runIds, newest last. */
  readonly runs = new Map<string, string[]>();
  readonly namespaces = new Map<string, NamespaceRecord>();
  /** Custom search attributes: name -> IndexedValueType. */
  readonly searchAttributeTypes = new Map<string, number>();
  readonly queries = new Map<string, PendingQuery>();
  /** Executions changed since the last commit. */
  readonly dirty = new Set<string>();
  /** Namespaces or search attribute types changed since the last commit. */
  metaDirty = true;
  private readonly running = new Set<string>();
  private readonly changeWaiters = new Map<string, Set<() => void>>();
  private readonly clockIds = new Map<string, number>();
  private taskSeq = 1;

  constructor(readonly options: EngineOptions) {
    this.clock = new VirtualClock(options.timeSkipping, () => this.isIdle(), options.startTime);
    for (const name of options.namespaces) this.registerNamespace(name, '', 3 * 24 * 3600_000);
    for (const [name, type] of Object.entries(options.searchAttributes)) this.searchAttributeTypes.set(name, type);
  }

  // ---------------------------------------------------------------- namespaces

  registerNamespace(name: string, description: string, retentionMs: number): NamespaceRecord {
    if (this.namespaces.has(name)) throw alreadyExists(`namespace ${name} already exists`);
    const record = { name, id: randomUUID(), description, retentionMs };
    this.namespaces.set(name, record);
    this.metaDirty = true;
    return record;
  }

  namespace(name: string): NamespaceRecord {
    const ns = this.namespaces.get(name || 'default');
    if (!ns) throw notFound(`namespace ${name} not found; register it first (RegisterNamespace or --namespace)`);
    return ns;
  }

  // ---------------------------------------------------------------- restore and retention

  /**
   * Takes over the state a durable storage kept: executions, namespaces,
   * search attributes, the clock's skew. Rebuilds what lives only in memory
   * (run lists, task queues, clock entries) from the records: scheduled tasks
   * are queued again; a task that was with a worker is handed out again
   * after its timeout unless that worker completes it first; timers that came
   * due while the server was down fire now, once.
   */
  restore(snapshot: Snapshot): void {
    for (const ns of snapshot.namespaces) this.namespaces.set(ns.name, ns);
    for (const [name, type] of Object.entries(snapshot.searchAttributes)) this.searchAttributeTypes.set(name, type);
    if (snapshot.clockSkewMs > 0) this.clock.advanceTo(Date.now() + snapshot.clockSkewMs);
    for (const exec of snapshot.executions) {
      this.executions.set(exec.key, exec);
      const runsKey = `${exec.namespace}/${exec.workflowId}`;
      const runs = this.runs.get(runsKey);
      if (runs) runs.push(exec.runId);
      else this.runs.set(runsKey, [exec.runId]);
      this.taskSeq = Math.max(this.taskSeq, exec.wft.seq + 1, ...Object.values(exec.activities).map((a) => a.seq + 1));
    }
    for (const exec of snapshot.executions) {
      if (exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING) this.rearm(exec);
      else compactHistory(exec);
    }
    // Namespaces named at this start that the storage did not have yet are stored with the first commit.
    this.metaDirty = true;
  }

  private rearm(exec: Execution): void {
    this.running.add(exec.key);
    if (exec.runTimeoutMs > 0) this.schedule(`run-timeout/${exec.key}`, exec.startTime + exec.runTimeoutMs, () => this.timeOutWorkflow(exec));
    if (exec.executionExpiresAt > 0) this.schedule(`execution-timeout/${exec.key}`, exec.executionExpiresAt, () => this.timeOutWorkflow(exec));
    for (const timerId of Object.keys(exec.timers)) this.armTimer(exec, timerId);
    if (exec.wft.state === 2) this.armWorkflowTaskTimeout(exec);
    else if (exec.wft.state === 1) this.dispatchWorkflowTask(exec);
    else if (exec.wft.scheduledEventId <= 0) this.kickOff(exec); // never scheduled (start delay) or a retry pending
    for (const activity of Object.values(exec.activities)) {
      this.armScheduleToClose(exec, activity);
      if (activity.state === 'scheduled') this.dispatchActivity(exec, activity);
      else if (activity.state === 'backoff') this.armActivityRetry(exec, activity);
      else {
        this.armActivityAttempt(exec, activity);
        this.armHeartbeat(exec, activity);
      }
    }
    // A child whose start was initiated but not yet made when the server stopped.
    for (const child of Object.values(exec.children)) {
      if (child.runId) continue;
      const initiated = exec.history[child.initiatedEventId - 1]?.startChildWorkflowExecutionInitiatedEventAttributes;
      if (initiated) queueMicrotask(() => launchChild(this, exec, child.initiatedEventId, initiated, child.namespace));
    }
  }

  /** Closed executions whose retention has passed: removed from memory; the caller removes them from storage. */
  expired(now = this.clock.now(), retentionMs?: number): Execution[] {
    const gone: Execution[] = [];
    for (const exec of this.executions.values()) {
      if (exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING || exec.closeTime === undefined) continue;
      const keep = retentionMs ?? this.namespaces.get(exec.namespace)?.retentionMs ?? 0;
      if (keep > 0 && exec.closeTime + keep <= now) gone.push(exec);
    }
    for (const exec of gone) {
      this.executions.delete(exec.key);
      this.dirty.delete(exec.key);
      const runsKey = `${exec.namespace}/${exec.workflowId}`;
      const runs = (this.runs.get(runsKey) ?? []).filter((id) => id !== exec.runId);
      if (runs.length > 0) this.runs.set(runsKey, runs);
      else this.runs.delete(runsKey);
    }
    return gone;
  }

  // ---------------------------------------------------------------- lookup

  lookup(namespace: string, workflowId: string, runId?: string): Execution {
    this.namespace(namespace);
    if (!workflowId) throw invalidArgument('workflow id is not set on the request');
    const runs = this.runs.get(`${namespace}/${workflowId}`);
    const id = runId || runs?.[runs.length - 1];
    const exec = id ? this.executions.get(`${namespace}/${workflowId}/${id}`) : undefined;
    if (!exec) throw notFound(`workflow execution not found: workflowId=${workflowId}${runId ? ` runId=${runId}` : ''}`);
    return exec;
  }

  private touch(exec: Execution): void {
    this.dirty.add(exec.key);
    const waiters = this.changeWaiters.get(exec.key);
    if (waiters) {
      this.changeWaiters.delete(exec.key);
      for (const w of waiters) w();
    }
    this.clock.maybeSkip();
  }

  /** Resolves at the next change of an execution (new event or close) or after timeoutMs. */
  waitForChange(exec: Execution, timeoutMs: number, onCancel?: (cancel: () => void) => void): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.changeWaiters.get(exec.key);
      if (!waiters) this.changeWaiters.set(exec.key, (waiters = new Set()));
      const done = () => {
        clearTimeout(timer);
        waiters!.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      waiters.add(done);
      onCancel?.(done);
    });
  }

  isIdle(): boolean {
    if (this.queries.size > 0) return false;
    for (const key of this.running) {
      const exec = this.executions.get(key)!;
      if (exec.wft.state !== 0) return false;
      for (const a of Object.values(exec.activities)) if (a.state !== 'backoff') return false;
      for (const u of Object.values(exec.updates)) if (u.stage < 3) return false;
    }
    return true;
  }

  // ---------------------------------------------------------------- clock entries

  private schedule(name: string, at: number, fire: () => void): void {
    this.cancelScheduled(name);
    this.clockIds.set(
      name,
      this.clock.schedule(at, () => {
        this.clockIds.delete(name);
        fire();
        // Work done by the clock (a timer fired, a task timed out) is stored without waiting for an RPC.
        if (this.dirty.size > 0) this.commitSoon();
      }),
    );
  }

  private cancelScheduled(name: string): void {
    const id = this.clockIds.get(name);
    if (id !== undefined) {
      this.clock.cancel(id);
      this.clockIds.delete(name);
    }
  }

  // ---------------------------------------------------------------- events

  /** Writes an event; while a workflow task is with a worker the event is held back. */
  /** @internal */
  addEvent(exec: Execution, eventType: number, attrName: string, attrs: Msg): Msg {
    const event: Msg = { eventTime: timestamp(this.clock.now()), eventType, [attrName]: attrs };
    if (exec.wft.state === 2) {
      exec.buffered.push(event);
    } else {
      event.eventId = exec.history.length + 1;
      exec.history.push(event);
    }
    this.touch(exec);
    return event;
  }

  /** Writes an event now, even while a task is in flight (command events, task events). */
  /** @internal */
  appendEvent(exec: Execution, eventType: number, attrName: string, attrs: Msg): Msg {
    const event: Msg = { eventId: exec.history.length + 1, eventTime: timestamp(this.clock.now()), eventType, taskId: exec.history.length + 1, [attrName]: attrs };
    exec.history.push(event);
    this.touch(exec);
    return event;
  }

  private flushBuffered(exec: Execution): number {
    const n = exec.buffered.length;
    for (const event of exec.buffered.splice(0)) {
      event.eventId = exec.history.length + 1;
      event.taskId = event.eventId;
      if (event.fixStartedFrom) {
        // A closing event written while its started event was still held back.
        const attrName = Object.keys(event).find((k) => k.endsWith('Attributes'))!;
        event[attrName].startedEventId = event.fixStartedFrom.eventId;
        delete event.fixStartedFrom;
      }
      exec.history.push(event);
    }
    return n;
  }

  // ---------------------------------------------------------------- start

  startWorkflow(req: Msg, extra: { parent?: Execution['parent']; continued?: { from: Execution; attrs: Msg; initiator: number; failure?: Msg; lastResult?: Msg; backoffMs: number; attempt: number } } = {}): { exec: Execution; started: boolean } {
    const ns = req.namespace || 'default';
    this.namespace(ns);
    if (!req.workflowId) throw invalidArgument('WorkflowId is not set on request.');
    if (!req.workflowType?.name) throw invalidArgument('WorkflowType is not set on request.');
    if (!req.taskQueue?.name) throw invalidArgument('TaskQueue is not set on request.');
    const runsKey = `${ns}/${req.workflowId}`;
    const runs = this.runs.get(runsKey) ?? [];
    const latest = runs.length > 0 ? this.executions.get(`${runsKey}/${runs[runs.length - 1]}`) : undefined;
    if (latest && !extra.continued) {
      if (req.requestId && latest.requestId === req.requestId) return { exec: latest, started: false };
      if (latest.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING) {
        const conflict = req.workflowIdConflictPolicy || enums.WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL;
        if (conflict === enums.WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING) return { exec: latest, started: false };
        if (conflict === enums.WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING ||
          req.workflowIdReusePolicy === enums.WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING) {
          this.terminate(latest, 'terminated by a new start (id conflict policy TERMINATE_EXISTING)', undefined, 'server');
        } else {
          throw new AlreadyStarted(`Workflow execution is already running. WorkflowId: ${req.workflowId}, RunId: ${latest.runId}.`, req.requestId, latest.runId);
        }
      } else {
        const reuse = req.workflowIdReusePolicy || enums.WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE;
        if (reuse === enums.WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE) {
          throw new AlreadyStarted(`Workflow execution already finished and the id reuse policy is REJECT_DUPLICATE. WorkflowId: ${req.workflowId}, RunId: ${latest.runId}.`, req.requestId, latest.runId);
        }
        if (reuse === enums.WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY && latest.status === WS.WORKFLOW_EXECUTION_STATUS_COMPLETED) {
          throw new AlreadyStarted(`Workflow execution already completed successfully and the id reuse policy is ALLOW_DUPLICATE_FAILED_ONLY. WorkflowId: ${req.workflowId}, RunId: ${latest.runId}.`, req.requestId, latest.runId);
        }
      }
    }
    this.validateSearchAttributes(req.searchAttributes);

    const now = this.clock.now();
    const runId = randomUUID();
    const continued = extra.continued;
    const firstRunId = continued ? continued.from.firstRunId : runId;
    const executionTimeoutMs = durationMs(req.workflowExecutionTimeout);
    let runTimeoutMs = durationMs(req.workflowRunTimeout);
    if (executionTimeoutMs > 0 && (runTimeoutMs === 0 || runTimeoutMs > executionTimeoutMs)) runTimeoutMs = executionTimeoutMs;
    const executionExpiresAt = continued ? continued.from.executionExpiresAt : executionTimeoutMs > 0 ? now + executionTimeoutMs : 0;
    const delayMs = continued ? continued.backoffMs : durationMs(req.workflowStartDelay);
    const exec: Execution = {
      key: `${runsKey}/${runId}`,
      namespace: ns,
      workflowId: req.workflowId,
      runId,
      firstRunId,
      workflowType: req.workflowType.name,
      taskQueue: req.taskQueue.name,
      status: WS.WORKFLOW_EXECUTION_STATUS_RUNNING,
      history: [],
      startTime: now,
      executionTime: now + delayMs,
      memo: req.memo,
      searchAttributes: { ...(req.searchAttributes?.indexedFields ?? {}) },
      workflowTaskTimeoutMs: durationMs(req.workflowTaskTimeout) || DEFAULT_WFT_TIMEOUT,
      runTimeoutMs,
      executionTimeoutMs,
      executionExpiresAt,
      retryPolicy: req.retryPolicy,
      attempt: continued?.attempt ?? 1,
      requestId: req.requestId,
      wft: { state: 0, scheduledEventId: 0, startedEventId: 0, attempt: 0, queue: req.taskQueue.name, sticky: false, scheduledAt: 0, startedAt: 0, seq: 0, queries: [] },
      previousStartedEventId: 0,
      buffered: [],
      stickyTimeoutMs: 0,
      activities: {},
      timers: {},
      children: {},
      parent: extra.parent ?? continued?.from.parent,
      updates: {},
      cancelRequested: false,
      firstTaskAt: now + delayMs,
    };
    this.executions.set(exec.key, exec);
    this.runs.set(runsKey, [...runs, runId]);
    this.running.add(exec.key);
    const parent = exec.parent;
    this.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, 'workflowExecutionStartedEventAttributes', {
      workflowType: req.workflowType,
      taskQueue: { name: req.taskQueue.name, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      input: req.input,
      workflowExecutionTimeout: req.workflowExecutionTimeout,
      workflowRunTimeout: runTimeoutMs ? duration(runTimeoutMs) : undefined,
      workflowTaskTimeout: duration(exec.workflowTaskTimeoutMs),
      continuedExecutionRunId: continued?.from.runId,
      initiator: continued?.initiator,
      continuedFailure: continued?.failure,
      lastCompletionResult: continued?.lastResult,
      originalExecutionRunId: runId,
      identity: req.identity,
      firstExecutionRunId: firstRunId,
      retryPolicy: req.retryPolicy,
      attempt: exec.attempt,
      workflowExecutionExpirationTime: executionExpiresAt ? timestamp(executionExpiresAt) : undefined,
      firstWorkflowTaskBackoff: delayMs ? duration(delayMs) : undefined,
      memo: req.memo,
      searchAttributes: req.searchAttributes,
      header: req.header,
      parentWorkflowNamespace: parent?.namespace,
      parentWorkflowExecution: parent ? { workflowId: parent.workflowId, runId: parent.runId } : undefined,
      parentInitiatedEventId: parent?.initiatedEventId,
      workflowId: req.workflowId,
      priority: req.priority,
    });
    if (runTimeoutMs > 0) this.schedule(`run-timeout/${exec.key}`, now + runTimeoutMs, () => this.timeOutWorkflow(exec));
    if (executionExpiresAt > 0) this.schedule(`execution-timeout/${exec.key}`, executionExpiresAt, () => this.timeOutWorkflow(exec));
    return { exec, started: true };
  }

  /** Schedules the first workflow task, after any start delay or backoff. */
  kickOff(exec: Execution): void {
    if (exec.firstTaskAt > this.clock.now()) {
      this.schedule(`first-task/${exec.key}`, exec.firstTaskAt, () => {
        if (exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING) this.scheduleWorkflowTask(exec);
      });
    } else {
      this.scheduleWorkflowTask(exec);
    }
  }

  private validateSearchAttributes(sa: Msg | undefined): void {
    for (const name of Object.keys(sa?.indexedFields ?? {})) {
      if (!this.searchAttributeTypes.has(name) && !SYSTEM_SEARCH_ATTRIBUTES.has(name)) {
        throw invalidArgument(`search attribute ${name} is not defined; register it with OperatorService.AddSearchAttributes (or --search-attribute ${name}=Keyword)`);
      }
    }
  }

  // ---------------------------------------------------------------- workflow tasks

  scheduleWorkflowTask(exec: Execution): void {
    if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return;
    if (exec.wft.state !== 0) return; // a started task picks up new events on completion
    if (exec.firstTaskAt > this.clock.now()) return;
    const attempt = exec.wft.attempt > 0 && exec.wft.scheduledEventId === -1 ? exec.wft.attempt : 1;
    const sticky = Boolean(exec.stickyQueue);
    const queue = exec.stickyQueue ?? exec.taskQueue;
    const ev = this.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, 'workflowTaskScheduledEventAttributes', {
      taskQueue: { name: queue, kind: sticky ? enums.TaskQueueKind.TASK_QUEUE_KIND_STICKY : enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL, normalName: sticky ? exec.taskQueue : undefined },
      startToCloseTimeout: duration(exec.workflowTaskTimeoutMs),
      attempt,
    });
    exec.wft = { ...exec.wft, state: 1, scheduledEventId: ev.eventId, startedEventId: 0, attempt, queue, sticky, scheduledAt: this.clock.now(), seq: this.taskSeq++ };
    this.dispatchWorkflowTask(exec);
  }

  private dispatchWorkflowTask(exec: Execution): void {
    const ref: WorkflowTaskRef = { kind: 'workflow', key: exec.key, seq: exec.wft.seq };
    this.workflowQueues.push(`${exec.namespace}/${exec.wft.queue}`, ref);
    if (exec.wft.sticky && exec.stickyTimeoutMs > 0) {
      // Sticky schedule-to-start timeout: fall back to the normal queue with full history.
      const seq = exec.wft.seq;
      this.schedule(`sticky/${exec.key}`, this.clock.now() + exec.stickyTimeoutMs, () => {
        if (exec.wft.state !== 1 || exec.wft.seq !== seq) return;
        exec.stickyQueue = undefined;
        exec.wft = { ...exec.wft, queue: exec.taskQueue, sticky: false, seq: this.taskSeq++ };
        this.dispatchWorkflowTask(exec);
        this.touch(exec);
      });
    }
  }

  /** A worker that shut down: executions sticky to its queue fall back to their normal queue. */
  dropStickyQueue(namespace: string, queue: string): void {
    for (const key of this.running) {
      const exec = this.executions.get(key)!;
      if (exec.namespace !== namespace || exec.stickyQueue !== queue) continue;
      exec.stickyQueue = undefined;
      if (exec.wft.state === 1 && exec.wft.sticky) {
        this.cancelScheduled(`sticky/${exec.key}`);
        exec.wft = { ...exec.wft, queue: exec.taskQueue, sticky: false, seq: this.taskSeq++ };
        this.dispatchWorkflowTask(exec);
      }
      this.touch(exec);
    }
  }

  /** Claims a queued workflow task for a poll: writes WorkflowTaskStarted and builds the response. */
  claimWorkflowTask(ref: WorkflowTaskRef, identity: string): Msg | undefined {
    if (ref.kind === 'query') return queryTasks.claimQueryTask(this, ref.id);
    const exec = this.executions.get(ref.key);
    if (!exec || exec.wft.state !== 1 || exec.wft.seq !== ref.seq || exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return undefined;
    this.cancelScheduled(`sticky/${exec.key}`);
    const started = this.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_TASK_STARTED, 'workflowTaskStartedEventAttributes', {
      scheduledEventId: exec.wft.scheduledEventId,
      identity,
      requestId: randomUUID(),
    });
    const now = this.clock.now();
    exec.wft = { ...exec.wft, state: 2, startedEventId: started.eventId, startedAt: now, seq: this.taskSeq++ };
    this.armWorkflowTaskTimeout(exec);
    const firstEvent = exec.wft.sticky ? exec.previousStartedEventId + 1 : 1;
    const queries: Record<string, Msg> = {};
    for (const id of exec.wft.queries) {
      const q = this.queries.get(id);
      if (q) queries[id] = q.query;
    }
    const messages: Msg[] = [];
    for (const u of Object.values(exec.updates)) {
      if (u.stage === 1) {
        u.stage = 2;
        messages.push({ id: `${u.updateId}/request`, protocolInstanceId: u.updateId, eventId: started.eventId - 1, body: packAny('temporal.api.update.v1.Request', u.request) });
      }
    }
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
      queries: Object.keys(queries).length > 0 ? queries : undefined,
      messages: messages.length > 0 ? messages : undefined,
    };
  }

  private armWorkflowTaskTimeout(exec: Execution): void {
    const seq = exec.wft.seq;
    this.schedule(`wft-timeout/${exec.key}`, exec.wft.startedAt + exec.workflowTaskTimeoutMs, () => this.timeOutWorkflowTask(exec, seq));
  }

  private workflowTaskFromToken(taskToken: Buffer | undefined): Execution {
    const t = parseToken(taskToken);
    const exec = t && typeof t.k === 'string' ? this.executions.get(t.k) : undefined;
    if (!exec || exec.wft.state !== 2 || exec.wft.seq !== t!.q) {
      throw notFound('workflow task not found: it timed out, the workflow was closed, or the task token is stale');
    }
    return exec;
  }

  /** Activity tasks handed straight back to a completing worker that reserved slots (eager dispatch). */
  private eagerTasks: Msg[] | undefined;

  completeWorkflowTask(req: Msg): { activityTasks: Msg[] } {
    const exec = this.workflowTaskFromToken(req.taskToken);
    const commands: Msg[] = req.commands ?? [];
    const terminal = commands.find((c) => TERMINAL_COMMANDS.has(c.commandType));
    const hasNewUpdates = Object.values(exec.updates).some((u) => u.stage === 1);
    if (terminal && (exec.buffered.length > 0 || hasNewUpdates)) {
      // New events arrived while the worker decided to close: it must see them first.
      this.failWorkflowTaskInternal(exec, enums.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND, undefined, req.identity, 'server');
      throw new RpcError(grpcStatus.INVALID_ARGUMENT, 'UnhandledCommand');
    }
    this.cancelScheduled(`wft-timeout/${exec.key}`);
    const completed = this.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 'workflowTaskCompletedEventAttributes', {
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
    // Answers to queries that rode on this task.
    for (const [id, result] of Object.entries((req.queryResults ?? {}) as Record<string, Msg>)) queryTasks.answerQuery(this, id, result);
    const messages: Msg[] = req.messages ?? [];
    const byId = new Map(messages.map((m) => [m.id, m]));
    const handled = new Set<string>();
    const ctx = { exec, completedId: completed.eventId, closed: false, identity: String(req.identity ?? '') };
    this.eagerTasks = [];
    for (const command of commands) {
      if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) break;
      if (command.commandType === CT.COMMAND_TYPE_PROTOCOL_MESSAGE) {
        const id = command.protocolMessageCommandAttributes?.messageId;
        const message = byId.get(id);
        if (message) {
          handled.add(id);
          this.applyProtocolMessage(exec, message);
        }
        continue;
      }
      this.applyCommand(ctx, command);
    }
    // Messages without a command (rejections) are applied after the commands.
    for (const message of messages) if (!handled.has(message.id) && exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING) this.applyProtocolMessage(exec, message);

    const taskQueries = exec.wft.queries;
    exec.wft = { ...exec.wft, state: 0, queries: [], attempt: 0 };
    const flushed = this.flushBuffered(exec);
    // Updates sent with this task that the worker neither accepted nor rejected go back to waiting.
    for (const u of Object.values(exec.updates)) if (u.stage === 2) u.stage = 1;
    if (exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING) {
      const needsTask = flushed > 0 || req.forceCreateNewWorkflowTask || Object.values(exec.updates).some((u) => u.stage === 1);
      if (needsTask) this.scheduleWorkflowTask(exec);
    }
    queryTasks.requeueQueries(this, exec, taskQueries);
    this.touch(exec);
    const activityTasks = exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING ? this.eagerTasks : [];
    this.eagerTasks = undefined;
    return { activityTasks };
  }

  failWorkflowTask(req: Msg): void {
    const exec = this.workflowTaskFromToken(req.taskToken);
    this.failWorkflowTaskInternal(exec, req.cause || enums.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED, req.failure, req.identity, 'worker');
  }

  private failWorkflowTaskInternal(exec: Execution, cause: number, failure: Msg | undefined, identity: string | undefined, by: 'worker' | 'server'): void {
    this.cancelScheduled(`wft-timeout/${exec.key}`);
    this.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_TASK_FAILED, 'workflowTaskFailedEventAttributes', {
      scheduledEventId: exec.wft.scheduledEventId,
      startedEventId: exec.wft.startedEventId,
      cause,
      failure,
      identity: by === 'worker' ? identity : 'forlop-embedded-temporal',
    });
    this.retryWorkflowTask(exec, by === 'worker');
  }

  private timeOutWorkflowTask(exec: Execution, seq: number): void {
    if (exec.wft.state !== 2 || exec.wft.seq !== seq) return;
    this.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT, 'workflowTaskTimedOutEventAttributes', {
      scheduledEventId: exec.wft.scheduledEventId,
      startedEventId: exec.wft.startedEventId,
      timeoutType: enums.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE,
    });
    this.retryWorkflowTask(exec, true);
  }

  /** After a failed or timed-out task: forget stickiness, deliver held events, try again. */
  private retryWorkflowTask(exec: Execution, backoff: boolean): void {
    const attempt = exec.wft.attempt + 1;
    const taskQueries = exec.wft.queries;
    exec.stickyQueue = undefined;
    exec.wft = { ...exec.wft, state: 0, queries: [], attempt, scheduledEventId: -1 };
    this.flushBuffered(exec);
    for (const u of Object.values(exec.updates)) if (u.stage === 2) u.stage = 1;
    // A worker that keeps failing the same task (e.g. nondeterminism) is retried
    // with a growing pause, so a broken deployment does not spin the server.
    const delay = backoff && attempt > 2 ? Math.min(10_000, 1000 * (attempt - 2)) : 0;
    if (delay > 0) {
      this.schedule(`wft-retry/${exec.key}`, this.clock.now() + delay, () => this.scheduleWorkflowTask(exec));
    } else {
      this.scheduleWorkflowTask(exec);
    }
    queryTasks.requeueQueries(this, exec, taskQueries);
    this.touch(exec);
  }

  // ---------------------------------------------------------------- commands

  private applyCommand(ctx: { exec: Execution; completedId: number; closed: boolean; identity: string }, command: Msg): void {
    const { exec, completedId } = ctx;
    switch (command.commandType) {
      case CT.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
        return this.scheduleActivity(exec, completedId, command.scheduleActivityTaskCommandAttributes ?? {}, ctx.identity);
      case CT.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
        return this.requestCancelActivity(exec, completedId, Number(command.requestCancelActivityTaskCommandAttributes?.scheduledEventId));
      case CT.COMMAND_TYPE_START_TIMER: {
        const a = command.startTimerCommandAttributes ?? {};
        const ev = this.appendEvent(exec, ET.EVENT_TYPE_TIMER_STARTED, 'timerStartedEventAttributes', {
          timerId: a.timerId,
          startToFireTimeout: a.startToFireTimeout,
          workflowTaskCompletedEventId: completedId,
        });
        const fireAt = this.clock.now() + durationMs(a.startToFireTimeout);
        exec.timers[a.timerId] = { startedEventId: ev.eventId, fireAt };
        this.armTimer(exec, a.timerId);
        return;
      }
      case CT.COMMAND_TYPE_CANCEL_TIMER: {
        const timerId = command.cancelTimerCommandAttributes?.timerId;
        const timer = exec.timers[timerId];
        if (!timer) return;
        delete exec.timers[timerId];
        this.cancelScheduled(`timer/${exec.key}/${timerId}`);
        this.appendEvent(exec, ET.EVENT_TYPE_TIMER_CANCELED, 'timerCanceledEventAttributes', {
          timerId,
          startedEventId: timer.startedEventId,
          workflowTaskCompletedEventId: completedId,
          identity: 'forlop-embedded-temporal',
        });
        return;
      }
      case CT.COMMAND_TYPE_RECORD_MARKER: {
        const a = command.recordMarkerCommandAttributes ?? {};
        this.appendEvent(exec, ET.EVENT_TYPE_MARKER_RECORDED, 'markerRecordedEventAttributes', { ...a, workflowTaskCompletedEventId: completedId });
        return;
      }
      case CT.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const a = command.upsertWorkflowSearchAttributesCommandAttributes ?? {};
        this.appendEvent(exec, ET.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, 'upsertWorkflowSearchAttributesEventAttributes', {
          searchAttributes: a.searchAttributes,
          workflowTaskCompletedEventId: completedId,
        });
        for (const [name, value] of Object.entries((a.searchAttributes?.indexedFields ?? {}) as Record<string, Msg>)) {
          if (!value?.data || value.data.length === 0 || Buffer.from(value.data).toString() === 'null') delete exec.searchAttributes[name];
          else exec.searchAttributes[name] = value;
        }
        return;
      }
      case CT.COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES: {
        const a = command.modifyWorkflowPropertiesCommandAttributes ?? {};
        this.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED, 'workflowPropertiesModifiedEventAttributes', {
          upsertedMemo: a.upsertedMemo,
          workflowTaskCompletedEventId: completedId,
        });
        exec.memo = { fields: { ...(exec.memo?.fields ?? {}), ...(a.upsertedMemo?.fields ?? {}) } };
        return;
      }
      case CT.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION: {
        const result = command.completeWorkflowExecutionCommandAttributes?.result;
        this.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, 'workflowExecutionCompletedEventAttributes', { result, workflowTaskCompletedEventId: completedId });
        this.close(exec, WS.WORKFLOW_EXECUTION_STATUS_COMPLETED, { result });
        return;
      }
      case CT.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION:
        return this.failWorkflow(exec, completedId, command.failWorkflowExecutionCommandAttributes?.failure);
      case CT.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION: {
        const details = command.cancelWorkflowExecutionCommandAttributes?.details;
        this.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED, 'workflowExecutionCanceledEventAttributes', { details, workflowTaskCompletedEventId: completedId });
        this.close(exec, WS.WORKFLOW_EXECUTION_STATUS_CANCELED, { details });
        return;
      }
      case CT.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION:
        return this.continueAsNew(exec, completedId, command.continueAsNewWorkflowExecutionCommandAttributes ?? {});
      case CT.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
        return startChild(this, exec, completedId, command.startChildWorkflowExecutionCommandAttributes ?? {});
      case CT.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION:
        return signalExternal(this, exec, completedId, command.signalExternalWorkflowExecutionCommandAttributes ?? {});
      case CT.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION:
        return cancelExternal(this, exec, completedId, command.requestCancelExternalWorkflowExecutionCommandAttributes ?? {});
      default:
        throw invalidArgument(`command type ${command.commandType} is not supported by the embedded server`);
    }
  }

  private armTimer(exec: Execution, timerId: string): void {
    const timer = exec.timers[timerId];
    this.schedule(`timer/${exec.key}/${timerId}`, timer.fireAt, () => {
      if (!exec.timers[timerId] || exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return;
      delete exec.timers[timerId];
      this.addEvent(exec, ET.EVENT_TYPE_TIMER_FIRED, 'timerFiredEventAttributes', { timerId, startedEventId: timer.startedEventId });
      this.scheduleWorkflowTask(exec);
    });
  }

  // ---------------------------------------------------------------- activities

  private scheduleActivity(exec: Execution, completedId: number, a: Msg, identity: string): void {
    if (!a.activityId || !a.activityType?.name) throw invalidArgument('ScheduleActivityTask needs an activity id and type');
    const taskQueue = a.taskQueue?.name || exec.taskQueue;
    let scheduleToCloseMs = durationMs(a.scheduleToCloseTimeout);
    let startToCloseMs = durationMs(a.startToCloseTimeout);
    let scheduleToStartMs = durationMs(a.scheduleToStartTimeout);
    const runLeft = exec.runTimeoutMs > 0 ? exec.startTime + exec.runTimeoutMs - this.clock.now() : 0;
    if (scheduleToCloseMs === 0 && runLeft > 0) scheduleToCloseMs = runLeft;
    if (startToCloseMs === 0) startToCloseMs = scheduleToCloseMs;
    if (startToCloseMs === 0) throw invalidArgument('an activity needs a StartToClose or ScheduleToClose timeout');
    if (scheduleToStartMs === 0 || (scheduleToCloseMs > 0 && scheduleToStartMs > scheduleToCloseMs)) scheduleToStartMs = scheduleToCloseMs;
    const retryPolicy = withRetryDefaults(a.retryPolicy);
    const ev = this.appendEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, 'activityTaskScheduledEventAttributes', {
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
    const now = this.clock.now();
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
      seq: this.taskSeq++,
    };
    exec.activities[ev.eventId] = activity;
    this.armScheduleToClose(exec, activity);
    if (a.requestEagerExecution && taskQueue === exec.taskQueue && this.eagerTasks) {
      // The completing worker reserved a slot: hand the task back in the response, no poll needed.
      const task = this.claimActivityTask({ key: exec.key, scheduledEventId: ev.eventId, seq: activity.seq }, identity);
      if (task) {
        this.eagerTasks.push(task);
        return;
      }
    }
    this.dispatchActivity(exec, activity);
  }

  private dispatchActivity(exec: Execution, activity: ActivityState): void {
    activity.state = 'scheduled';
    activity.seq = this.taskSeq++;
    this.activityQueues.push(`${exec.namespace}/${activity.taskQueue}`, { key: exec.key, scheduledEventId: activity.scheduledEventId, seq: activity.seq });
    if (activity.scheduleToStartMs > 0 && activity.scheduleToStartMs < activity.scheduleToCloseMs) {
      const seq = activity.seq;
      this.schedule(`act-s2s/${exec.key}/${activity.scheduledEventId}`, this.clock.now() + activity.scheduleToStartMs, () => {
        if (activity.state === 'scheduled' && activity.seq === seq) this.timeOutActivity(exec, activity, enums.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START);
      });
    }
  }

  claimActivityTask(ref: ActivityTaskRef, identity: string): Msg | undefined {
    const exec = this.executions.get(ref.key);
    const activity = exec?.activities[ref.scheduledEventId];
    if (!exec || !activity || activity.state !== 'scheduled' || activity.seq !== ref.seq || exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return undefined;
    const now = this.clock.now();
    activity.state = 'started';
    activity.startedAt = now;
    activity.lastHeartbeatAt = now;
    activity.startedIdentity = identity;
    activity.seq = this.taskSeq++;
    this.cancelScheduled(`act-s2s/${exec.key}/${activity.scheduledEventId}`);
    this.armActivityAttempt(exec, activity);
    this.armHeartbeat(exec, activity);
    this.dirty.add(exec.key);
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

  private armActivityAttempt(exec: Execution, activity: ActivityState): void {
    const seq = activity.seq;
    this.schedule(`act-s2c-attempt/${exec.key}/${activity.scheduledEventId}`, activity.startedAt + activity.startToCloseMs, () => {
      if (activity.state === 'started' && activity.seq === seq) this.timeOutActivity(exec, activity, enums.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE);
    });
  }

  private armScheduleToClose(exec: Execution, activity: ActivityState): void {
    if (activity.scheduleToCloseMs <= 0) return;
    this.schedule(`act-s2c/${exec.key}/${activity.scheduledEventId}`, activity.scheduledAt + activity.scheduleToCloseMs, () =>
      this.timeOutActivity(exec, activity, enums.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE),
    );
  }

  private armHeartbeat(exec: Execution, activity: ActivityState): void {
    if (activity.heartbeatMs <= 0) return;
    const seq = activity.seq;
    this.schedule(`act-hb/${exec.key}/${activity.scheduledEventId}`, activity.lastHeartbeatAt + activity.heartbeatMs, () => {
      if (activity.state === 'started' && activity.seq === seq) this.timeOutActivity(exec, activity, enums.TimeoutType.TIMEOUT_TYPE_HEARTBEAT);
    });
  }

  private activityFromToken(taskToken: Buffer | undefined): { exec: Execution; activity: ActivityState } {
    const t = parseToken(taskToken);
    const exec = t && typeof t.k === 'string' ? this.executions.get(t.k) : undefined;
    const activity = exec && typeof t!.a === 'number' ? exec.activities[t!.a] : undefined;
    if (!exec || !activity || activity.state !== 'started' || activity.seq !== t!.q || exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) {
      throw notFound('activity task not found: it timed out, was cancelled, the workflow closed, or the task token is stale');
    }
    return { exec, activity };
  }

  heartbeat(req: Msg): { cancelRequested: boolean } {
    const { exec, activity } = this.activityFromToken(req.taskToken);
    activity.heartbeatDetails = req.details;
    activity.lastHeartbeatAt = this.clock.now();
    this.armHeartbeat(exec, activity);
    this.dirty.add(exec.key);
    return { cancelRequested: activity.cancelRequested };
  }

  private writeActivityStarted(exec: Execution, activity: ActivityState): Msg {
    return this.addEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_STARTED, 'activityTaskStartedEventAttributes', {
      scheduledEventId: activity.scheduledEventId,
      identity: activity.startedIdentity,
      requestId: randomUUID(),
      attempt: activity.attempt,
      lastFailure: activity.lastFailure,
    });
  }

  /** Writes an activity's closing event pointing at its started event (whose id may be assigned only on flush). */
  private addClosingEvent(exec: Execution, eventType: number, attrName: string, attrs: Msg, started: Msg | undefined): void {
    const event = this.addEvent(exec, eventType, attrName, { ...attrs, startedEventId: started?.eventId ?? 0 });
    if (started && started.eventId === undefined) event.fixStartedFrom = started;
  }

  private finishActivity(exec: Execution, activity: ActivityState): void {
    delete exec.activities[activity.scheduledEventId];
    for (const prefix of ['act-s2c', 'act-s2s', 'act-s2c-attempt', 'act-hb', 'act-retry']) this.cancelScheduled(`${prefix}/${exec.key}/${activity.scheduledEventId}`);
  }

  completeActivity(req: Msg): void {
    const { exec, activity } = this.activityFromToken(req.taskToken);
    const started = this.writeActivityStarted(exec, activity);
    this.finishActivity(exec, activity);
    this.addClosingEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, 'activityTaskCompletedEventAttributes', {
      result: req.result,
      scheduledEventId: activity.scheduledEventId,
      identity: req.identity,
    }, started);
    this.scheduleWorkflowTask(exec);
  }

  failActivity(req: Msg): void {
    const { exec, activity } = this.activityFromToken(req.taskToken);
    const failure = req.failure ?? { message: 'activity failed' };
    if (req.lastHeartbeatDetails) activity.heartbeatDetails = req.lastHeartbeatDetails;
    const retryState = this.retryActivity(exec, activity, failure, false);
    if (retryState === 'retrying') return;
    const started = this.writeActivityStarted(exec, activity);
    this.finishActivity(exec, activity);
    this.addClosingEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_FAILED, 'activityTaskFailedEventAttributes', {
      failure,
      scheduledEventId: activity.scheduledEventId,
      identity: req.identity,
      retryState,
    }, started);
    this.scheduleWorkflowTask(exec);
  }

  canceledActivity(req: Msg): void {
    const { exec, activity } = this.activityFromToken(req.taskToken);
    const started = this.writeActivityStarted(exec, activity);
    this.finishActivity(exec, activity);
    this.addClosingEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_CANCELED, 'activityTaskCanceledEventAttributes', {
      details: req.details,
      latestCancelRequestedEventId: activity.cancelRequestedEventId,
      scheduledEventId: activity.scheduledEventId,
      identity: req.identity,
    }, started);
    this.scheduleWorkflowTask(exec);
  }

  /**
   * Decides whether a failed attempt is retried (server side, invisible in
   * history) and arms the backoff; returns 'retrying' or the RetryState why not.
   */
  private retryActivity(exec: Execution, activity: ActivityState, failure: Msg, timeout: boolean): 'retrying' | number {
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
    const now = this.clock.now();
    if (activity.scheduleToCloseMs > 0 && now + delay >= activity.scheduledAt + activity.scheduleToCloseMs) return RS.RETRY_STATE_TIMEOUT;
    activity.lastFailure = failure;
    activity.attempt++;
    activity.state = 'backoff';
    activity.retryAt = now + delay;
    activity.seq = this.taskSeq++;
    this.cancelScheduled(`act-s2c-attempt/${exec.key}/${activity.scheduledEventId}`);
    this.cancelScheduled(`act-hb/${exec.key}/${activity.scheduledEventId}`);
    this.armActivityRetry(exec, activity);
    this.touch(exec);
    return 'retrying';
  }

  private armActivityRetry(exec: Execution, activity: ActivityState): void {
    this.schedule(`act-retry/${exec.key}/${activity.scheduledEventId}`, activity.retryAt ?? this.clock.now(), () => {
      if (exec.activities[activity.scheduledEventId] !== activity || exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return;
      activity.attemptScheduledAt = this.clock.now();
      activity.retryAt = undefined;
      this.dispatchActivity(exec, activity);
      this.touch(exec);
    });
  }

  private timeOutActivity(exec: Execution, activity: ActivityState, timeoutType: number): void {
    if (exec.activities[activity.scheduledEventId] !== activity || exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return;
    const TT = enums.TimeoutType;
    const failure: Msg = {
      message: `activity ${TT[timeoutType]?.replace('TIMEOUT_TYPE_', '') ?? 'timeout'} timeout`,
      source: 'Server',
      timeoutFailureInfo: { timeoutType, lastHeartbeatDetails: activity.heartbeatDetails },
    };
    let retryState: number | 'retrying' = enums.RetryState.RETRY_STATE_TIMEOUT;
    if (timeoutType === TT.TIMEOUT_TYPE_START_TO_CLOSE || timeoutType === TT.TIMEOUT_TYPE_HEARTBEAT) {
      retryState = this.retryActivity(exec, activity, failure, true);
      if (retryState === 'retrying') return;
    } else if (timeoutType === TT.TIMEOUT_TYPE_SCHEDULE_TO_START) {
      retryState = enums.RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE;
    }
    if (activity.lastFailure) failure.cause = activity.lastFailure;
    const started = activity.state === 'started' ? this.writeActivityStarted(exec, activity) : undefined;
    this.finishActivity(exec, activity);
    this.addClosingEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, 'activityTaskTimedOutEventAttributes', {
      failure,
      scheduledEventId: activity.scheduledEventId,
      retryState,
    }, started);
    this.scheduleWorkflowTask(exec);
  }

  private requestCancelActivity(exec: Execution, completedId: number, scheduledEventId: number): void {
    const activity = exec.activities[scheduledEventId];
    const ev = this.appendEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED, 'activityTaskCancelRequestedEventAttributes', {
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
    this.finishActivity(exec, activity);
    this.activityQueues.remove(`${exec.namespace}/${activity.taskQueue}`, (t) => t.key === exec.key && t.scheduledEventId === scheduledEventId);
    this.addEvent(exec, ET.EVENT_TYPE_ACTIVITY_TASK_CANCELED, 'activityTaskCanceledEventAttributes', {
      latestCancelRequestedEventId: ev.eventId,
      scheduledEventId,
      startedEventId: 0,
      identity: 'forlop-embedded-temporal',
    });
  }

  // ---------------------------------------------------------------- signals, cancel, terminate

  signal(exec: Execution, req: Msg): void {
    if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) throw notFound('workflow execution already completed');
    if (!req.signalName) throw invalidArgument('signal name is not set on the request');
    this.addEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, 'workflowExecutionSignaledEventAttributes', {
      signalName: req.signalName,
      input: req.input,
      identity: req.identity,
      header: req.header,
    });
    this.scheduleWorkflowTask(exec);
  }

  requestCancel(exec: Execution, reason: string | undefined, identity: string | undefined, external?: { initiatedEventId: number; namespace: string; execution: Msg }): void {
    if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) throw notFound('workflow execution already completed');
    if (exec.cancelRequested) return;
    exec.cancelRequested = true;
    this.addEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED, 'workflowExecutionCancelRequestedEventAttributes', {
      cause: reason,
      identity,
      externalInitiatedEventId: external?.initiatedEventId,
      externalWorkflowExecution: external?.execution,
    });
    this.scheduleWorkflowTask(exec);
  }

  terminate(exec: Execution, reason: string | undefined, details: Msg | undefined, identity: string | undefined): void {
    if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) throw notFound('workflow execution already completed');
    this.flushBuffered(exec);
    this.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, 'workflowExecutionTerminatedEventAttributes', { reason, details, identity });
    this.close(exec, WS.WORKFLOW_EXECUTION_STATUS_TERMINATED, { reason, details });
  }

  private timeOutWorkflow(exec: Execution): void {
    if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return;
    this.flushBuffered(exec);
    this.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, 'workflowExecutionTimedOutEventAttributes', { retryState: enums.RetryState.RETRY_STATE_TIMEOUT });
    this.close(exec, WS.WORKFLOW_EXECUTION_STATUS_TIMED_OUT, {});
  }

  private failWorkflow(exec: Execution, completedId: number, failure: Msg | undefined): void {
    const policy = exec.retryPolicy ? withRetryDefaults(exec.retryPolicy) : undefined;
    let retryState: number = enums.RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET;
    let next: Execution | undefined;
    if (policy) {
      const app = failure?.applicationFailureInfo;
      const max = Number(policy.maximumAttempts ?? 0);
      const delay = retryDelay(policy, exec.attempt);
      if (app?.nonRetryable || (app?.type && (policy.nonRetryableErrorTypes ?? []).includes(app.type))) retryState = enums.RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE;
      else if (max > 0 && exec.attempt >= max) retryState = enums.RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED;
      else if (exec.executionExpiresAt > 0 && this.clock.now() + delay >= exec.executionExpiresAt) retryState = enums.RetryState.RETRY_STATE_TIMEOUT;
      else {
        retryState = enums.RetryState.RETRY_STATE_IN_PROGRESS;
        next = this.startNextRun(exec, this.startAttributes(exec), enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY, delay, exec.attempt + 1, failure);
      }
    }
    this.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, 'workflowExecutionFailedEventAttributes', {
      failure,
      retryState,
      workflowTaskCompletedEventId: completedId,
      newExecutionRunId: next?.runId,
    });
    exec.nextRunId = next?.runId;
    this.close(exec, WS.WORKFLOW_EXECUTION_STATUS_FAILED, { failure, retryState }, next);
  }

  private startAttributes(exec: Execution): Msg {
    return exec.history[0].workflowExecutionStartedEventAttributes;
  }

  private continueAsNew(exec: Execution, completedId: number, a: Msg): void {
    const started = this.startAttributes(exec);
    const attrs = {
      workflowType: a.workflowType?.name ? a.workflowType : started.workflowType,
      taskQueue: a.taskQueue?.name ? a.taskQueue : started.taskQueue,
      input: a.input,
      workflowRunTimeout: a.workflowRunTimeout ?? started.workflowRunTimeout,
      workflowTaskTimeout: a.workflowTaskTimeout ?? started.workflowTaskTimeout,
      workflowExecutionTimeout: started.workflowExecutionTimeout,
      header: a.header,
      memo: a.memo ?? exec.memo,
      searchAttributes: a.searchAttributes ?? { indexedFields: exec.searchAttributes },
      retryPolicy: a.retryPolicy ?? exec.retryPolicy,
    };
    const backoffMs = durationMs(a.backoffStartInterval);
    const next = this.startNextRun(exec, attrs, enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW, backoffMs, 1, a.failure, a.lastCompletionResult);
    this.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, 'workflowExecutionContinuedAsNewEventAttributes', {
      newExecutionRunId: next.runId,
      workflowType: attrs.workflowType,
      taskQueue: attrs.taskQueue,
      input: a.input,
      workflowRunTimeout: attrs.workflowRunTimeout,
      workflowTaskTimeout: attrs.workflowTaskTimeout,
      workflowTaskCompletedEventId: completedId,
      backoffStartInterval: a.backoffStartInterval,
      initiator: enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW,
      header: a.header,
      memo: attrs.memo,
      searchAttributes: attrs.searchAttributes,
    });
    exec.nextRunId = next.runId;
    this.close(exec, WS.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW, {}, next);
  }

  /** Starts the next run of a chain (continue-as-new or retry); its first task is scheduled after this run closes. */
  private startNextRun(from: Execution, attrs: Msg, initiator: number, backoffMs: number, attempt: number, failure?: Msg, lastResult?: Msg): Execution {
    const req = {
      namespace: from.namespace,
      workflowId: from.workflowId,
      workflowType: attrs.workflowType,
      taskQueue: { name: attrs.taskQueue?.name ?? from.taskQueue },
      input: attrs.input,
      workflowExecutionTimeout: attrs.workflowExecutionTimeout,
      workflowRunTimeout: attrs.workflowRunTimeout,
      workflowTaskTimeout: attrs.workflowTaskTimeout,
      header: attrs.header,
      memo: attrs.memo,
      searchAttributes: attrs.searchAttributes,
      retryPolicy: attrs.retryPolicy,
      identity: 'forlop-embedded-temporal',
    };
    return this.startWorkflow(req, { continued: { from, attrs, initiator, failure, lastResult, backoffMs, attempt } }).exec;
  }

  /** Closes a run: drops its pending work, answers waiters, tells its parent, applies parent close policies. */
  private close(exec: Execution, status: number, outcome: Msg, next?: Execution): void {
    exec.status = status;
    exec.closeTime = this.clock.now();
    this.running.delete(exec.key);
    exec.wft = { ...exec.wft, state: 0 };
    exec.buffered = [];
    exec.stickyQueue = undefined;
    for (const activity of Object.values(exec.activities)) this.finishActivity(exec, activity);
    for (const timerId of Object.keys(exec.timers)) this.cancelScheduled(`timer/${exec.key}/${timerId}`);
    for (const name of ['wft-timeout', 'run-timeout', 'sticky', 'wft-retry', 'first-task']) this.cancelScheduled(`${name}/${exec.key}`);
    if (!next) this.cancelScheduled(`execution-timeout/${exec.key}`);
    for (const u of Object.values(exec.updates)) {
      if (u.stage < 4) {
        u.stage = 4;
        u.outcome = { failure: { message: 'workflow execution already completed', applicationFailureInfo: { type: 'AcceptedUpdateCompletedWorkflow' } } };
      }
    }
    for (const q of this.queries.values()) if (q.key === exec.key && q.state !== 'dispatched') queryTasks.dispatchQueryTask(this, q);
    if (next) {
      // The chain goes on: the new run inherits the parent link; the parent hears only of the final run.
      if (next.executionExpiresAt > 0) {
        this.cancelScheduled(`execution-timeout/${exec.key}`);
        this.schedule(`execution-timeout/${next.key}`, next.executionExpiresAt, () => this.timeOutWorkflow(next));
      }
      this.kickOff(next);
    } else {
      notifyParent(this, exec, status, outcome);
    }
    applyParentClosePolicies(this, exec);
    this.touch(exec);
    // Once this change is answered, the closed run's history is kept as bytes (read back on demand).
    setImmediate(() => compactHistory(exec));
  }

  /** Work done outside an RPC (a child launched after a task) is committed by the service's background flush. */
  onBackgroundChange?: () => void;
  /** @internal */
  commitSoon(): void {
    this.onBackgroundChange?.();
  }

  // ---------------------------------------------------------------- updates

  admitUpdate(exec: Execution, request: Msg): UpdateState {
    const updateId: string = request.meta?.updateId || randomUUID();
    const existing = exec.updates[updateId];
    if (existing) return existing;
    if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) throw notFound('workflow execution already completed');
    if (!request.input?.name) throw invalidArgument('update name is not set on the request');
    const update: UpdateState = { updateId, name: request.input.name, request: { ...request, meta: { ...request.meta, updateId } }, stage: 1 };
    exec.updates[updateId] = update;
    this.scheduleWorkflowTask(exec);
    this.touch(exec);
    return update;
  }

  private applyProtocolMessage(exec: Execution, message: Msg): void {
    const body = unpackAny(message.body);
    const updateId: string = message.protocolInstanceId;
    const update = exec.updates[updateId];
    if (!body || !update) return;
    switch (body.typeName) {
      case 'temporal.api.update.v1.Acceptance': {
        const ev = this.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, 'workflowExecutionUpdateAcceptedEventAttributes', {
          protocolInstanceId: updateId,
          acceptedRequestMessageId: body.value.acceptedRequestMessageId,
          acceptedRequestSequencingEventId: body.value.acceptedRequestSequencingEventId,
          acceptedRequest: body.value.acceptedRequest ?? update.request,
        });
        update.stage = 3;
        update.acceptedEventId = ev.eventId;
        break;
      }
      case 'temporal.api.update.v1.Rejection':
        update.stage = 5;
        update.outcome = { failure: body.value.failure };
        break;
      case 'temporal.api.update.v1.Response':
        this.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED, 'workflowExecutionUpdateCompletedEventAttributes', {
          meta: body.value.meta ?? { updateId },
          acceptedEventId: update.acceptedEventId,
          outcome: body.value.outcome,
        });
        update.stage = 4;
        update.outcome = body.value.outcome;
        break;
    }
    this.touch(exec);
  }

  // ---------------------------------------------------------------- queries (queries.ts)

  query(exec: Execution, query: Msg, rejectCondition: number): Promise<Msg> {
    return queryTasks.query(this, exec, query, rejectCondition);
  }

  respondQueryTask(req: Msg): void {
    queryTasks.respondQueryTask(this, req);
  }

  stop(): void {
    this.clock.stop();
    this.workflowQueues.releaseAll();
    this.activityQueues.releaseAll();
    for (const q of this.queries.values()) q.reject(new RpcError(grpcStatus.UNAVAILABLE, 'server is shutting down'));
    this.queries.clear();
  }
}


/**
 * A closed run's history changes no more and is rarely read (a history fetch,
 * a query on a closed workflow): it is kept as protobuf bytes, about a tenth
 * of its size as objects, and decoded when read.
 */
export function compactHistory(exec: Execution): void {
  if (exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING || !Array.isArray(Object.getOwnPropertyDescriptor(exec, 'history')?.value)) return;
  const bytes = encodeEvents(exec.history);
  Object.defineProperty(exec, 'history', {
    get: () => decodeEvents(bytes),
    set: (events: Msg[]) => Object.defineProperty(exec, 'history', { value: events, writable: true, enumerable: true, configurable: true }),
    enumerable: true,
    configurable: true,
  });
}

export const SYSTEM_SEARCH_ATTRIBUTES = new Set(['WorkflowType', 'WorkflowId', 'RunId', 'ExecutionStatus', 'StartTime', 'CloseTime', 'ExecutionTime', 'TaskQueue', 'BuildIds', 'TemporalChangeVersion', 'BinaryChecksums']);

