/**
 * The workflow execution: start (id reuse and conflict policies, start delay,
 * run and execution timeouts), and every way a run closes: completed,
 * failed (with the workflow retry policy), cancelled, terminated, timed out,
 * continued as new. A chain (continue-as-new, retries) starts its next run
 * here. Owns the execution record's own fields (status, timeouts, chain).
 */
import { randomUUID } from 'node:crypto';
import { compactHistory, SYSTEM_SEARCH_ATTRIBUTES, type Core, type Machine } from '../core';
import { AlreadyStarted, invalidArgument, notFound } from '../errors';
import type { Execution } from '../model';
import { duration, durationMs, enums, timestamp, type Msg } from '../proto';
import { retryDelay, withRetryDefaults } from '../retry-policy';
import type { WorkflowTasks } from './workflow-task';

const ET = enums.EventType;
const WS = enums.WorkflowExecutionStatus;

const DEFAULT_WFT_TIMEOUT = 10_000;

/** How a run was continued: the new run's start carries these. */
export interface Continuation {
  from: Execution;
  attrs: Msg;
  initiator: number;
  failure?: Msg;
  lastResult?: Msg;
  backoffMs: number;
  attempt: number;
}

/**
 * Start options this server does not implement are refused, never ignored:
 * a caller relying on one learns it at once (INVALID_ARGUMENT names it).
 */
export function refuseUnsupportedStartOptions(req: Msg): void {
  const refuse = (option: string, instead: string) => {
    throw invalidArgument(`${option} is not supported by the embedded Temporal server (docs/embedded-temporal.md, known differences): ${instead}`);
  };
  if (req.cronSchedule) refuse('cronSchedule', 'run the periodic work as a timer loop in the workflow (continue-as-new between rounds)');
  if (req.completionCallbacks?.length > 0) refuse('completionCallbacks (Nexus)', 'wait for the result with the client instead');
  if (req.versioningOverride) refuse('versioningOverride (worker versioning)', 'start without it; every worker on the task queue takes the workflow');
  if (req.onConflictOptions) refuse('onConflictOptions', 'start without it (USE_EXISTING returns the running workflow as it is)');
}

export class WorkflowExecutions implements Machine {
  constructor(
    private readonly core: Core,
    private readonly workflowTasks: WorkflowTasks,
  ) {}

  start(req: Msg, extra: { parent?: Execution['parent']; continued?: Continuation } = {}): { exec: Execution; started: boolean } {
    const ns = req.namespace || 'default';
    this.core.namespace(ns);
    if (!req.workflowId) throw invalidArgument('WorkflowId is not set on request.');
    if (!req.workflowType?.name) throw invalidArgument('WorkflowType is not set on request.');
    if (!req.taskQueue?.name) throw invalidArgument('TaskQueue is not set on request.');
    const runsKey = `${ns}/${req.workflowId}`;
    const runs = this.core.runs.get(runsKey) ?? [];
    const latest = runs.length > 0 ? this.core.executions.get(`${runsKey}/${runs[runs.length - 1]}`) : undefined;
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
    if (!extra.continued) refuseUnsupportedStartOptions(req);
    this.validateSearchAttributes(req.searchAttributes);

    const now = this.core.clock.now();
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
    this.core.executions.set(exec.key, exec);
    this.core.runs.set(runsKey, [...runs, runId]);
    this.core.running.add(exec.key);
    const parent = exec.parent;
    const startedEvent = this.core.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, 'workflowExecutionStartedEventAttributes', {
      workflowType: req.workflowType,
      taskQueue: { name: req.taskQueue.name, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      input: req.input,
      workflowExecutionTimeout: req.workflowExecutionTimeout,
      workflowRunTimeout: runTimeoutMs ? duration(runTimeoutMs) : undefined,
      workflowTaskTimeout: duration(exec.workflowTaskTimeoutMs),
      continuedExecutionRunId: continued?.from.runId,
      initiator: continued?.initiator,
      continuedFailure: continued ? continued.failure : req.continuedFailure ?? undefined,
      lastCompletionResult: continued ? continued.lastResult : req.lastCompletionResult ?? undefined,
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
    // The static summary and details (user metadata) and links ride on the started event, as in Temporal's server.
    if (req.userMetadata) startedEvent.userMetadata = req.userMetadata;
    if (req.links?.length > 0) startedEvent.links = req.links;
    if (runTimeoutMs > 0) this.core.schedule(`run-timeout/${exec.key}`, now + runTimeoutMs, () => this.timeOut(exec));
    if (executionExpiresAt > 0) this.core.schedule(`execution-timeout/${exec.key}`, executionExpiresAt, () => this.timeOut(exec));
    return { exec, started: true };
  }

  private validateSearchAttributes(sa: Msg | undefined): void {
    for (const name of Object.keys(sa?.indexedFields ?? {})) {
      if (!this.core.searchAttributeTypes.has(name) && !SYSTEM_SEARCH_ATTRIBUTES.has(name)) {
        throw invalidArgument(`search attribute ${name} is not defined; register it with OperatorService.AddSearchAttributes (or --search-attribute ${name}=Keyword)`);
      }
    }
  }

  /** A CompleteWorkflowExecution command. */
  complete(exec: Execution, completedId: number, result: Msg | undefined): void {
    this.core.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, 'workflowExecutionCompletedEventAttributes', { result, workflowTaskCompletedEventId: completedId });
    this.closeRun(exec, WS.WORKFLOW_EXECUTION_STATUS_COMPLETED, { result });
  }

  /** A CancelWorkflowExecution command (the workflow accepted a cancel request). */
  cancel(exec: Execution, completedId: number, details: Msg | undefined): void {
    this.core.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED, 'workflowExecutionCanceledEventAttributes', { details, workflowTaskCompletedEventId: completedId });
    this.closeRun(exec, WS.WORKFLOW_EXECUTION_STATUS_CANCELED, { details });
  }

  terminate(exec: Execution, reason: string | undefined, details: Msg | undefined, identity: string | undefined): void {
    if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) throw notFound('workflow execution already completed');
    this.core.flushBuffered(exec);
    this.core.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, 'workflowExecutionTerminatedEventAttributes', { reason, details, identity });
    this.closeRun(exec, WS.WORKFLOW_EXECUTION_STATUS_TERMINATED, { reason, details });
  }

  private timeOut(exec: Execution): void {
    if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return;
    this.core.flushBuffered(exec);
    this.core.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, 'workflowExecutionTimedOutEventAttributes', { retryState: enums.RetryState.RETRY_STATE_TIMEOUT });
    this.closeRun(exec, WS.WORKFLOW_EXECUTION_STATUS_TIMED_OUT, {});
  }

  fail(exec: Execution, completedId: number, failure: Msg | undefined): void {
    const policy = exec.retryPolicy ? withRetryDefaults(exec.retryPolicy) : undefined;
    let retryState: number = enums.RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET;
    let next: Execution | undefined;
    if (policy) {
      const app = failure?.applicationFailureInfo;
      const max = Number(policy.maximumAttempts ?? 0);
      const delay = retryDelay(policy, exec.attempt);
      if (app?.nonRetryable || (app?.type && (policy.nonRetryableErrorTypes ?? []).includes(app.type))) retryState = enums.RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE;
      else if (max > 0 && exec.attempt >= max) retryState = enums.RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED;
      else if (exec.executionExpiresAt > 0 && this.core.clock.now() + delay >= exec.executionExpiresAt) retryState = enums.RetryState.RETRY_STATE_TIMEOUT;
      else {
        retryState = enums.RetryState.RETRY_STATE_IN_PROGRESS;
        next = this.startNextRun(exec, this.startAttributes(exec), enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY, delay, exec.attempt + 1, failure);
      }
    }
    this.core.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, 'workflowExecutionFailedEventAttributes', {
      failure,
      retryState,
      workflowTaskCompletedEventId: completedId,
      newExecutionRunId: next?.runId,
    });
    exec.nextRunId = next?.runId;
    this.closeRun(exec, WS.WORKFLOW_EXECUTION_STATUS_FAILED, { failure, retryState }, next);
  }

  private startAttributes(exec: Execution): Msg {
    return exec.history[0].workflowExecutionStartedEventAttributes;
  }

  continueAsNew(exec: Execution, completedId: number, a: Msg): void {
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
    this.core.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, 'workflowExecutionContinuedAsNewEventAttributes', {
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
    this.closeRun(exec, WS.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW, {}, next);
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
    return this.start(req, { continued: { from, attrs, initiator, failure, lastResult, backoffMs, attempt } }).exec;
  }

  /** Closes a run: every machine drops its pending work; a continuing chain gets its first task; waiters are answered. */
  private closeRun(exec: Execution, status: number, outcome: Msg, next?: Execution): void {
    exec.status = status;
    exec.closeTime = this.core.clock.now();
    this.core.running.delete(exec.key);
    this.core.cancelScheduled(`run-timeout/${exec.key}`);
    if (!next) this.core.cancelScheduled(`execution-timeout/${exec.key}`);
    // Activities, timers, the workflow task, updates and queries drop their work; children.ts tells
    // the parent (when the chain ends here) and applies the parent close policies.
    this.core.closed(exec, status, outcome, next);
    if (next) {
      // The chain goes on: the new run inherits the parent link; the parent hears only of the final run.
      if (next.executionExpiresAt > 0) {
        this.core.cancelScheduled(`execution-timeout/${exec.key}`);
        this.core.schedule(`execution-timeout/${next.key}`, next.executionExpiresAt, () => this.timeOut(next));
      }
      this.workflowTasks.kickOff(next);
    }
    this.core.touch(exec);
    // Once this change is answered, the closed run's history is kept as bytes (read back on demand).
    setImmediate(() => compactHistory(exec));
  }

  /** Run and execution timeouts of a running execution. */
  rearm(exec: Execution): void {
    if (exec.runTimeoutMs > 0) this.core.schedule(`run-timeout/${exec.key}`, exec.startTime + exec.runTimeoutMs, () => this.timeOut(exec));
    if (exec.executionExpiresAt > 0) this.core.schedule(`execution-timeout/${exec.key}`, exec.executionExpiresAt, () => this.timeOut(exec));
  }
}
