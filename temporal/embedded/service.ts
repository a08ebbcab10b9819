/**
 * gRPC handlers of WorkflowService, OperatorService and TestService over the
 * engine. Each handler validates its request, changes the engine
 * synchronously, commits the touched executions through the storage
 * interface, and only then answers.
 */
import * as grpc from '@grpc/grpc-js';
import { AlreadyStarted, SYSTEM_SEARCH_ATTRIBUTES, type Engine } from './engine';
import { invalidArgument, notFound, RpcError } from './errors';
import type { Execution } from './model';
import { durationMs, encode, enums, MALFORMED, serviceDefinition, timestamp, type Msg, type UnaryHandler } from './proto';
import type { Storage } from './storage';
import { matches, parseQuery, sortValue, type Row, type Value } from './visibility';

const WS = enums.WorkflowExecutionStatus;
const POLL_TIMEOUT_MS = 55_000;
const HISTORY_LONG_POLL_MS = 20_000;
const UPDATE_WAIT_MS = 20_000;
const VERSION = '1.27.0-forlop-embedded';

const INDEXED: Record<string, number> = {
  Text: enums.IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  Keyword: enums.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Int: enums.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  Double: enums.IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  Bool: enums.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  Datetime: enums.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KeywordList: enums.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};
export const indexedValueType = (name: string): number | undefined => INDEXED[name];

type Handlers = Record<string, UnaryHandler>;

export function buildServices(engine: Engine, storage: Storage): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation }[] {
  // The storage applies commits in order: once the latest has resolved, so has every earlier one.
  let latest: Promise<void> = Promise.resolve();
  const commit = async () => {
    // Work the engine queued as microtasks while handling the RPC (a child's start, an external
    // signal) runs first, so it is stored with the change that caused it.
    await undefined;
    if (engine.dirty.size === 0 && !engine.metaDirty) {
      // This RPC's changes may ride on a commit already under way (another RPC's, or the
      // clock's): answer only once it is stored.
      await latest;
      return;
    }
    const keys = [...engine.dirty];
    engine.dirty.clear();
    const meta = engine.metaDirty ? { namespaces: [...engine.namespaces.values()], searchAttributes: Object.fromEntries(engine.searchAttributeTypes) } : undefined;
    engine.metaDirty = false;
    const stored = storage.commit({ executions: keys.map((k) => engine.executions.get(k)!).filter(Boolean), meta, clockSkewMs: engine.clock.skewMs });
    latest = stored;
    await stored;
  };
  engine.onBackgroundChange = () => void commit().catch((error) => engine.options.log?.('the embedded Temporal server could not store a change', { error: String(error) }));

  const describeExecutionInfo = (exec: Execution): Msg => ({
    execution: { workflowId: exec.workflowId, runId: exec.runId },
    type: { name: exec.workflowType },
    startTime: timestamp(exec.startTime),
    closeTime: exec.closeTime ? timestamp(exec.closeTime) : undefined,
    status: exec.status,
    historyLength: exec.history.length,
    executionTime: timestamp(exec.executionTime),
    memo: exec.memo,
    searchAttributes: Object.keys(exec.searchAttributes).length > 0 ? { indexedFields: exec.searchAttributes } : undefined,
    taskQueue: exec.taskQueue,
    parentExecution: exec.parent ? { workflowId: exec.parent.workflowId, runId: exec.parent.runId } : undefined,
    firstRunId: exec.firstRunId,
    executionDuration: exec.closeTime ? { seconds: Math.floor((exec.closeTime - exec.startTime) / 1000) } : undefined,
  });

  const row = (exec: Execution): Row => (field) => {
    switch (field) {
      case 'WorkflowType':
        return exec.workflowType;
      case 'WorkflowId':
        return exec.workflowId;
      case 'RunId':
        return exec.runId;
      case 'ExecutionStatus':
        return exec.status;
      case 'StartTime':
        return exec.startTime;
      case 'CloseTime':
        return exec.closeTime ?? null;
      case 'ExecutionTime':
        return exec.executionTime;
      case 'TaskQueue':
        return exec.taskQueue;
    }
    const payload = exec.searchAttributes[field];
    if (!payload?.data) return undefined;
    try {
      const value = JSON.parse(Buffer.from(payload.data).toString('utf8')) as Value;
      if (engine.searchAttributeTypes.get(field) === INDEXED.Datetime && typeof value === 'string') return Date.parse(value);
      return value;
    } catch {
      return undefined;
    }
  };

  const listMatching = (namespace: string, query: string | undefined): Execution[] => {
    engine.namespace(namespace);
    const parsed = parseQuery(query, (f) => SYSTEM_SEARCH_ATTRIBUTES.has(f) || engine.searchAttributeTypes.has(f));
    const result: Execution[] = [];
    for (const exec of engine.executions.values()) if (exec.namespace === (namespace || 'default') && matches(parsed.where, row(exec))) result.push(exec);
    const order = parsed.orderBy ?? { field: 'StartTime', desc: true };
    result.sort((a, b) => {
      const x = sortValue(row(a), order.field);
      const y = sortValue(row(b), order.field);
      const c = x < y ? -1 : x > y ? 1 : 0;
      return order.desc ? -c : c;
    });
    return result;
  };

  const updateResponse = (exec: Execution, updateId: string): Msg => {
    const u = exec.updates[updateId];
    const stage = !u ? 0 : u.stage >= 4 ? 3 : u.stage === 3 ? 2 : 1;
    return {
      updateRef: { workflowExecution: { workflowId: exec.workflowId, runId: exec.runId }, updateId },
      outcome: u && u.stage >= 4 ? u.outcome : undefined,
      stage: u?.stage === 5 ? enums.UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED : stage,
    };
  };

  /** Waits until an update reaches the stage asked for (accepted or completed) or the long poll ends. */
  const awaitUpdate = async (exec: Execution, updateId: string, waitStage: number, call: grpc.ServerUnaryCall<Msg, Msg>): Promise<Msg> => {
    const deadline = Date.now() + UPDATE_WAIT_MS;
    const wanted = waitStage >= enums.UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED ? 4 : 3;
    for (;;) {
      const u = exec.updates[updateId];
      if (!u) throw notFound(`update ${updateId} not found`);
      if (u.stage >= wanted || Date.now() >= deadline || call.cancelled) return updateResponse(exec, updateId);
      await engine.waitForChange(exec, Math.max(1, deadline - Date.now()));
    }
  };

  const startResponse = (exec: Execution, started: boolean) => ({ runId: exec.runId, started });

  const workflow: Handlers = {
    async GetSystemInfo() {
      return {
        serverVersion: VERSION,
        capabilities: {
          signalAndQueryHeader: true,
          internalErrorDifferentiation: true,
          activityFailureIncludeHeartbeat: true,
          supportsSchedules: false,
          encodedFailureAttributes: true,
          buildIdBasedVersioning: false,
          upsertMemo: true,
          eagerWorkflowStart: true,
          sdkMetadata: true,
          countGroupByExecutionStatus: false,
          nexus: false,
        },
      };
    },
    async DescribeNamespace(req) {
      const ns = req.id ? [...engine.namespaces.values()].find((n) => n.id === req.id) : engine.namespaces.get(req.namespace || 'default');
      if (!ns) throw notFound(`namespace ${req.namespace || req.id} not found`);
      return {
        namespaceInfo: { name: ns.name, id: ns.id, state: enums.NamespaceState.NAMESPACE_STATE_REGISTERED, description: ns.description, capabilities: { eagerWorkflowStart: true, syncUpdate: true, asyncUpdate: true } },
        config: { workflowExecutionRetentionTtl: { seconds: Math.floor(ns.retentionMs / 1000) } },
        isGlobalNamespace: false,
      };
    },
    async RegisterNamespace(req) {
      if (!req.namespace) throw invalidArgument('namespace name is not set on the request');
      engine.registerNamespace(req.namespace, req.description ?? '', durationMs(req.workflowExecutionRetentionPeriod) || 3 * 24 * 3600_000);
      await commit();
      return {};
    },
    async ListNamespaces() {
      return {
        namespaces: [...engine.namespaces.values()].map((ns) => ({
          namespaceInfo: { name: ns.name, id: ns.id, state: enums.NamespaceState.NAMESPACE_STATE_REGISTERED, description: ns.description },
          config: { workflowExecutionRetentionTtl: { seconds: Math.floor(ns.retentionMs / 1000) } },
        })),
      };
    },
    async StartWorkflowExecution(req) {
      const { exec, started } = engine.startWorkflow(req);
      // Eager workflow start: the caller's worker reserved a slot (the SDK core asks only then), so
      // the first workflow task goes back in this answer, started, instead of through a queue.
      // Not for a deduplicated start or one whose first task waits for a start delay.
      const eagerWorkflowTask = started && req.requestEagerExecution ? engine.startEagerly(exec, req.identity) : undefined;
      if (started && !eagerWorkflowTask) engine.kickOff(exec);
      await commit();
      return { ...startResponse(exec, started), eagerWorkflowTask };
    },
    async SignalWorkflowExecution(req) {
      const exec = engine.lookup(req.namespace, req.workflowExecution?.workflowId, req.workflowExecution?.runId);
      engine.signal(exec, req);
      await commit();
      return {};
    },
    async SignalWithStartWorkflowExecution(req) {
      const runs = engine.runs.get(`${req.namespace || 'default'}/${req.workflowId}`);
      const latest = runs && engine.executions.get(`${req.namespace || 'default'}/${req.workflowId}/${runs[runs.length - 1]}`);
      const signal = { signalName: req.signalName, input: req.signalInput, header: req.header, identity: req.identity };
      if (latest && latest.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING) {
        engine.signal(latest, signal);
        await commit();
        return { runId: latest.runId, started: false };
      }
      const { exec } = engine.startWorkflow({ ...req, workflowIdConflictPolicy: enums.WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL });
      engine.signal(exec, signal);
      engine.kickOff(exec);
      await commit();
      return { runId: exec.runId, started: true };
    },
    async RequestCancelWorkflowExecution(req) {
      const exec = engine.lookup(req.namespace, req.workflowExecution?.workflowId, req.workflowExecution?.runId);
      engine.requestCancel(exec, req.reason, req.identity);
      await commit();
      return {};
    },
    async TerminateWorkflowExecution(req) {
      const exec = engine.lookup(req.namespace, req.workflowExecution?.workflowId, req.workflowExecution?.runId);
      engine.terminate(exec, req.reason, req.details, req.identity);
      await commit();
      return {};
    },
    async DescribeWorkflowExecution(req) {
      const exec = engine.lookup(req.namespace, req.execution?.workflowId, req.execution?.runId);
      return {
        executionConfig: {
          taskQueue: { name: exec.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
          workflowExecutionTimeout: { seconds: Math.floor(exec.executionTimeoutMs / 1000) },
          workflowRunTimeout: { seconds: Math.floor(exec.runTimeoutMs / 1000) },
          defaultWorkflowTaskTimeout: { seconds: Math.floor(exec.workflowTaskTimeoutMs / 1000) },
        },
        workflowExecutionInfo: describeExecutionInfo(exec),
        pendingActivities: Object.values(exec.activities).map((a) => ({
          activityId: a.activityId,
          activityType: { name: a.activityType },
          state: a.cancelRequested
            ? enums.PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
            : a.state === 'started'
              ? enums.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
              : enums.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED,
          heartbeatDetails: a.heartbeatDetails,
          lastHeartbeatTime: a.lastHeartbeatAt ? timestamp(a.lastHeartbeatAt) : undefined,
          lastStartedTime: a.startedAt ? timestamp(a.startedAt) : undefined,
          attempt: a.attempt,
          maximumAttempts: a.retryPolicy.maximumAttempts,
          scheduledTime: timestamp(a.attemptScheduledAt),
          lastFailure: a.lastFailure,
          lastWorkerIdentity: a.startedIdentity,
        })),
        pendingChildren: Object.values(exec.children).map((c) => ({ workflowId: c.workflowId, runId: c.runId, workflowTypeName: c.workflowType, initiatedId: c.initiatedEventId, parentClosePolicy: c.parentClosePolicy })),
        pendingWorkflowTask:
          exec.wft.state === 0
            ? undefined
            : {
                state: exec.wft.state === 2 ? enums.PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED : enums.PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED,
                scheduledTime: timestamp(exec.wft.scheduledAt),
                startedTime: exec.wft.state === 2 ? timestamp(exec.wft.startedAt) : undefined,
                attempt: exec.wft.attempt,
              },
      };
    },
    async GetWorkflowExecutionHistory(req, call) {
      let exec = engine.lookup(req.namespace, req.execution?.workflowId, req.execution?.runId);
      const closeOnly = req.historyEventFilterType === enums.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT;
      let from = 1;
      if (req.nextPageToken && req.nextPageToken.length > 0) {
        try {
          const t = JSON.parse(Buffer.from(req.nextPageToken).toString('utf8'));
          from = Number(t.from) || 1;
          if (t.runId) exec = engine.lookup(req.namespace, req.execution?.workflowId, t.runId);
        } catch {
          throw invalidArgument('next page token is malformed');
        }
      }
      const pageSize = Number(req.maximumPageSize) > 0 ? Number(req.maximumPageSize) : 1000;
      if (req.waitNewEvent) {
        const deadline = Date.now() + HISTORY_LONG_POLL_MS;
        let cancel: (() => void) | undefined;
        call.on('cancelled', () => cancel?.());
        // Long poll: for the close event, wait for the close; otherwise for any event past the token.
        while ((closeOnly ? exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING : exec.history.length < from && exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING) && Date.now() < deadline && !call.cancelled) {
          await engine.waitForChange(exec, Math.max(1, deadline - Date.now()), (c) => (cancel = c));
        }
        if (closeOnly && exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING) {
          return { history: { events: [] }, nextPageToken: Buffer.from(JSON.stringify({ from, runId: exec.runId })) };
        }
      }
      if (closeOnly) {
        if (exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return { history: { events: [] } };
        return { history: { events: [exec.history[exec.history.length - 1]] } };
      }
      const events = exec.history.slice(from - 1, from - 1 + pageSize);
      const next = from + events.length;
      const more = next <= exec.history.length || (req.waitNewEvent && exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING);
      return { history: { events }, nextPageToken: more ? Buffer.from(JSON.stringify({ from: next, runId: exec.runId })) : undefined };
    },
    async GetWorkflowExecutionHistoryReverse(req) {
      const exec = engine.lookup(req.namespace, req.execution?.workflowId, req.execution?.runId);
      return { history: { events: [...exec.history].reverse() } };
    },
    async PollWorkflowTaskQueue(req, call) {
      engine.namespace(req.namespace);
      if (!req.taskQueue?.name) throw invalidArgument('task queue is not set on the request');
      const task = await engine.workflowQueues.poll(`${req.namespace || 'default'}/${req.taskQueue.name}`, POLL_TIMEOUT_MS, (ref) => engine.claimWorkflowTask(ref, req.identity ?? ''), (cancel) => call.on('cancelled', cancel));
      await commit();
      return task ?? {};
    },
    async RespondWorkflowTaskCompleted(req) {
      try {
        return engine.completeWorkflowTask(req);
      } finally {
        await commit();
      }
    },
    async RespondWorkflowTaskFailed(req) {
      engine.failWorkflowTask(req);
      await commit();
      return {};
    },
    async RespondQueryTaskCompleted(req) {
      engine.respondQueryTask(req);
      return {};
    },
    async PollActivityTaskQueue(req, call) {
      engine.namespace(req.namespace);
      if (!req.taskQueue?.name) throw invalidArgument('task queue is not set on the request');
      const task = await engine.activityQueues.poll(`${req.namespace || 'default'}/${req.taskQueue.name}`, POLL_TIMEOUT_MS, (ref) => engine.claimActivityTask(ref, req.identity ?? ''), (cancel) => call.on('cancelled', cancel));
      await commit();
      return task ?? {};
    },
    async RecordActivityTaskHeartbeat(req) {
      const result = engine.heartbeat(req);
      await commit();
      return result;
    },
    async RespondActivityTaskCompleted(req) {
      engine.completeActivity(req);
      await commit();
      return {};
    },
    async RespondActivityTaskFailed(req) {
      engine.failActivity(req);
      await commit();
      return {};
    },
    async RespondActivityTaskCanceled(req) {
      engine.canceledActivity(req);
      await commit();
      return {};
    },
    async QueryWorkflow(req, call) {
      const exec = engine.lookup(req.namespace, req.execution?.workflowId, req.execution?.runId);
      if (!req.query?.queryType) throw invalidArgument('query type is not set on the request');
      return engine.query(exec, req.query, req.queryRejectCondition ?? 0).finally(() => {
        if (call.cancelled) engine.clock.maybeSkip();
      });
    },
    async UpdateWorkflowExecution(req, call) {
      const exec = engine.lookup(req.namespace, req.workflowExecution?.workflowId, req.workflowExecution?.runId);
      const update = engine.admitUpdate(exec, req.request ?? {});
      await commit();
      return awaitUpdate(exec, update.updateId, req.waitPolicy?.lifecycleStage ?? 0, call);
    },
    async PollWorkflowExecutionUpdate(req, call) {
      const ref = req.updateRef ?? {};
      const exec = engine.lookup(req.namespace, ref.workflowExecution?.workflowId, ref.workflowExecution?.runId);
      return awaitUpdate(exec, ref.updateId, req.waitPolicy?.lifecycleStage ?? enums.UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED, call);
    },
    async ExecuteMultiOperation(req, call) {
      const [startOp, updateOp] = req.operations ?? [];
      const start = startOp?.startWorkflow;
      const update = updateOp?.updateWorkflow;
      if (!start || !update) throw invalidArgument('ExecuteMultiOperation supports exactly [startWorkflow, updateWorkflow] (update-with-start)');
      if (start.workflowId !== update.workflowExecution?.workflowId) throw invalidArgument('update-with-start: the update must target the workflow being started');
      const { exec, started } = engine.startWorkflow({ ...start, namespace: req.namespace });
      const admitted = engine.admitUpdate(exec, update.request ?? {});
      if (started) engine.kickOff(exec);
      await commit();
      const updateResult = await awaitUpdate(exec, admitted.updateId, update.waitPolicy?.lifecycleStage ?? 0, call);
      return { responses: [{ startWorkflow: startResponse(exec, started) }, { updateWorkflow: updateResult }] };
    },
    async ListWorkflowExecutions(req) {
      const all = listMatching(req.namespace, req.query);
      const offset = req.nextPageToken?.length ? Number(Buffer.from(req.nextPageToken).toString()) : 0;
      const size = Number(req.pageSize) > 0 ? Number(req.pageSize) : 1000;
      const page = all.slice(offset, offset + size);
      return { executions: page.map(describeExecutionInfo), nextPageToken: offset + size < all.length ? Buffer.from(String(offset + size)) : undefined };
    },
    async ListOpenWorkflowExecutions(req) {
      return { executions: listMatching(req.namespace, "ExecutionStatus = 'Running'").map(describeExecutionInfo) };
    },
    async CountWorkflowExecutions(req) {
      return { count: listMatching(req.namespace, req.query).length };
    },
    async GetSearchAttributes() {
      return { keys: Object.fromEntries(engine.searchAttributeTypes) };
    },
    async ShutdownWorker(req) {
      // Its sticky queue goes with it: pending tasks move to the normal queue at once.
      if (req.stickyTaskQueue) engine.dropStickyQueue(req.namespace || 'default', req.stickyTaskQueue);
      await commit();
      return {};
    },
    async ResetStickyTaskQueue(req) {
      const exec = engine.lookup(req.namespace, req.execution?.workflowId, req.execution?.runId);
      exec.stickyQueue = undefined;
      return {};
    },
  };

  const operator: Handlers = {
    async AddSearchAttributes(req) {
      for (const [name, type] of Object.entries((req.searchAttributes ?? {}) as Record<string, number>)) {
        if (SYSTEM_SEARCH_ATTRIBUTES.has(name)) throw invalidArgument(`search attribute ${name} is reserved by the system`);
        const existing = engine.searchAttributeTypes.get(name);
        if (existing !== undefined && existing !== type) throw new RpcError(grpc.status.ALREADY_EXISTS, `search attribute ${name} already exists with another type`);
        engine.searchAttributeTypes.set(name, type);
        engine.metaDirty = true;
      }
      await commit();
      return {};
    },
    async RemoveSearchAttributes(req) {
      for (const name of req.searchAttributes ?? []) {
        if (!engine.searchAttributeTypes.delete(name)) throw notFound(`search attribute ${name} is not registered`);
        engine.metaDirty = true;
      }
      await commit();
      return {};
    },
    async ListSearchAttributes() {
      const system: Record<string, number> = {
        WorkflowType: INDEXED.Keyword,
        WorkflowId: INDEXED.Keyword,
        RunId: INDEXED.Keyword,
        ExecutionStatus: INDEXED.Keyword,
        TaskQueue: INDEXED.Keyword,
        StartTime: INDEXED.Datetime,
        CloseTime: INDEXED.Datetime,
        ExecutionTime: INDEXED.Datetime,
      };
      return { customAttributes: Object.fromEntries(engine.searchAttributeTypes), systemAttributes: system, storageSchema: {} };
    },
  };

  const test: Handlers = {
    async GetCurrentTime() {
      return { time: timestamp(engine.clock.now()) };
    },
    async LockTimeSkipping() {
      engine.clock.lock();
      return {};
    },
    async UnlockTimeSkipping() {
      engine.clock.unlock();
      return {};
    },
    async UnlockTimeSkippingWithSleep(req) {
      await sleepVirtual(engine, durationMs(req.duration), true);
      return {};
    },
    async Sleep(req) {
      await sleepVirtual(engine, durationMs(req.duration), false);
      return {};
    },
    async SleepUntil(req) {
      const until = Number(req.timestamp?.seconds ?? 0) * 1000;
      await sleepVirtual(engine, Math.max(0, until - engine.clock.now()), false);
      return {};
    },
  };

  return [
    bind('temporal.api.workflowservice.v1.WorkflowService', workflow),
    bind('temporal.api.operatorservice.v1.OperatorService', operator),
    bind('temporal.api.testservice.v1.TestService', test),
  ];
}

/** Sleeps for virtual time: a clock entry at now+d; with unlock, time may skip to it (even past running activities, as in Java). */
function sleepVirtual(engine: Engine, ms: number, unlock: boolean): Promise<void> {
  return new Promise((resolve) => {
    if (unlock) engine.clock.sleepUnlocked(engine.clock.now() + ms, resolve);
    else engine.clock.schedule(engine.clock.now() + ms, resolve);
  });
}

function toServiceError(error: unknown): Partial<grpc.StatusObject> & { code: grpc.status; details: string; metadata?: grpc.Metadata } {
  if (error instanceof AlreadyStarted) {
    // The SDK reads the run id of the running workflow from these details.
    const metadata = new grpc.Metadata();
    const failure = { startRequestId: error.startRequestId ?? '', runId: error.runId };
    const details = encode('google.rpc.Status', {
      code: grpc.status.ALREADY_EXISTS,
      message: error.message,
      details: [{ type_url: 'type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure', value: encode('temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure', failure) }],
    });
    metadata.set('grpc-status-details-bin', details);
    return { code: error.code, details: error.message, metadata };
  }
  if (error instanceof RpcError) return { code: error.code, details: error.message };
  return { code: grpc.status.INTERNAL, details: error instanceof Error ? error.message : String(error) };
}

function bind(serviceName: string, handlers: Handlers) {
  const { definition, methods } = serviceDefinition(serviceName);
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of methods) {
    const handler = handlers[method.name];
    implementation[method.name] = (call: grpc.ServerUnaryCall<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) => {
      if (!handler) {
        callback({ code: grpc.status.UNIMPLEMENTED, details: `unknown method ${method.name} for service ${serviceName}: not supported by Forløp's embedded Temporal server` });
        return;
      }
      const request: Msg = call.request ?? {};
      if (request[MALFORMED]) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: request[MALFORMED] });
        return;
      }
      let result: Promise<Msg>;
      try {
        result = handler(request, call);
      } catch (error) {
        result = Promise.reject(error);
      }
      result.then(
        (response) => callback(null, response),
        (error) => callback(toServiceError(error)),
      );
    };
  }
  return { definition: definition as grpc.ServiceDefinition, implementation };
}
