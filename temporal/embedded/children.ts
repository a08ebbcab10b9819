/**
 * Child workflows and signals/cancellation of external workflows
 * (Temporal's history service: StartChildWorkflowExecution,
 * SignalExternalWorkflowExecution, RequestCancelExternalWorkflowExecution),
 * and what a closing run owes its parent and its children (parent close
 * policies). Functions over the engine's state; the engine calls them.
 */
import { randomUUID } from 'node:crypto';
import type { Engine } from './engine';
import { AlreadyStarted } from './errors';
import type { Execution } from './model';
import { enums, type Msg } from './proto';

const ET = enums.EventType;
const WS = enums.WorkflowExecutionStatus;

export function startChild(engine: Engine, exec: Execution, completedId: number, a: Msg): void {
  const namespace = a.namespace || exec.namespace;
  const initiated = engine.appendEvent(exec, ET.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED, 'startChildWorkflowExecutionInitiatedEventAttributes', {
    ...a,
    namespace,
    workflowTaskCompletedEventId: completedId,
  });
  const initiatedEventId = initiated.eventId;
  exec.children[initiatedEventId] = {
    initiatedEventId,
    namespace,
    workflowId: a.workflowId,
    startedEventId: 0,
    workflowType: a.workflowType?.name,
    parentClosePolicy: a.parentClosePolicy || enums.ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE,
  };
  // The child starts right after this task completes, as the history service does.
  queueMicrotask(() => launchChild(engine, exec, initiatedEventId, a, namespace));
}

export function launchChild(engine: Engine, exec: Execution, initiatedEventId: number, a: Msg, namespace: string): void {
  const child = exec.children[initiatedEventId];
  if (!child || exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return;
  try {
    const { exec: childExec } = engine.startWorkflow(
      {
        namespace,
        workflowId: a.workflowId,
        workflowType: a.workflowType,
        taskQueue: a.taskQueue?.name ? a.taskQueue : { name: exec.taskQueue },
        input: a.input,
        workflowExecutionTimeout: a.workflowExecutionTimeout,
        workflowRunTimeout: a.workflowRunTimeout,
        workflowTaskTimeout: a.workflowTaskTimeout,
        workflowIdReusePolicy: a.workflowIdReusePolicy,
        retryPolicy: a.retryPolicy,
        header: a.header,
        memo: a.memo,
        searchAttributes: a.searchAttributes,
        identity: 'forlop-embedded-temporal',
        requestId: randomUUID(),
      },
      { parent: { namespace: exec.namespace, workflowId: exec.workflowId, runId: exec.runId, initiatedEventId } },
    );
    child.runId = childExec.runId;
    const started = engine.addEvent(exec, ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED, 'childWorkflowExecutionStartedEventAttributes', {
      namespace,
      initiatedEventId,
      workflowExecution: { workflowId: childExec.workflowId, runId: childExec.runId },
      workflowType: a.workflowType,
      header: a.header,
    });
    child.startedEventId = started.eventId ?? 0;
    engine.kickOff(childExec);
  } catch (error) {
    delete exec.children[initiatedEventId];
    engine.addEvent(exec, ET.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED, 'startChildWorkflowExecutionFailedEventAttributes', {
      namespace,
      workflowId: a.workflowId,
      workflowType: a.workflowType,
      cause: enums.StartChildWorkflowExecutionFailedCause.START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS,
      control: a.control,
      initiatedEventId,
    });
    if (!(error instanceof AlreadyStarted)) engine.options.log?.('child workflow start failed', { error: String(error) });
  }
  engine.scheduleWorkflowTask(exec);
  engine.commitSoon();
}

export function notifyParent(engine: Engine, exec: Execution, status: number, outcome: Msg): void {
  const link = exec.parent;
  if (!link) return;
  const parent = engine.executions.get(`${link.namespace}/${link.workflowId}/${link.runId}`);
  if (!parent || parent.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return;
  const child = parent.children[link.initiatedEventId];
  if (!child) return;
  delete parent.children[link.initiatedEventId];
  if (!child.startedEventId) {
    // Its started event was held back when written; find the id it got.
    const started = [...parent.history, ...parent.buffered].find(
      (e) => e.childWorkflowExecutionStartedEventAttributes?.initiatedEventId === link.initiatedEventId,
    );
    child.startedEventId = started?.eventId ?? 0;
  }
  const common = {
    namespace: exec.namespace,
    workflowExecution: { workflowId: exec.workflowId, runId: exec.runId },
    workflowType: { name: exec.workflowType },
    initiatedEventId: link.initiatedEventId,
    startedEventId: child.startedEventId,
  };
  switch (status) {
    case WS.WORKFLOW_EXECUTION_STATUS_COMPLETED:
      engine.addEvent(parent, ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED, 'childWorkflowExecutionCompletedEventAttributes', { ...common, result: outcome.result });
      break;
    case WS.WORKFLOW_EXECUTION_STATUS_FAILED:
      engine.addEvent(parent, ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED, 'childWorkflowExecutionFailedEventAttributes', { ...common, failure: outcome.failure, retryState: outcome.retryState });
      break;
    case WS.WORKFLOW_EXECUTION_STATUS_CANCELED:
      engine.addEvent(parent, ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED, 'childWorkflowExecutionCanceledEventAttributes', { ...common, details: outcome.details });
      break;
    case WS.WORKFLOW_EXECUTION_STATUS_TERMINATED:
      engine.addEvent(parent, ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED, 'childWorkflowExecutionTerminatedEventAttributes', common);
      break;
    case WS.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
      engine.addEvent(parent, ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT, 'childWorkflowExecutionTimedOutEventAttributes', { ...common, retryState: enums.RetryState.RETRY_STATE_TIMEOUT });
      break;
  }
  engine.scheduleWorkflowTask(parent);
}

export function applyParentClosePolicies(engine: Engine, exec: Execution): void {
  for (const child of Object.values(exec.children)) {
    const PCP = enums.ParentClosePolicy;
    if (child.parentClosePolicy === PCP.PARENT_CLOSE_POLICY_ABANDON || !child.runId) continue;
    const runs = engine.runs.get(`${child.namespace}/${child.workflowId}`);
    const latest = runs && engine.executions.get(`${child.namespace}/${child.workflowId}/${runs[runs.length - 1]}`);
    if (!latest || latest.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) continue;
    latest.parent = undefined;
    if (child.parentClosePolicy === PCP.PARENT_CLOSE_POLICY_REQUEST_CANCEL) engine.requestCancel(latest, 'parent closed (parent close policy REQUEST_CANCEL)', 'forlop-embedded-temporal');
    else engine.terminate(latest, 'parent closed (parent close policy TERMINATE)', undefined, 'forlop-embedded-temporal');
  }
  exec.children = {};
}

export function signalExternal(engine: Engine, exec: Execution, completedId: number, a: Msg): void {
  const namespace = a.namespace || exec.namespace;
  const initiated = engine.appendEvent(exec, ET.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED, 'signalExternalWorkflowExecutionInitiatedEventAttributes', {
    namespace,
    workflowExecution: a.execution,
    signalName: a.signalName,
    input: a.input,
    control: a.control,
    childWorkflowOnly: a.childWorkflowOnly,
    header: a.header,
    workflowTaskCompletedEventId: completedId,
  });
  const initiatedEventId = initiated.eventId;
  queueMicrotask(() => {
    if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return;
    try {
      const target = engine.lookup(namespace, a.execution?.workflowId, a.execution?.runId);
      engine.signal(target, { signalName: a.signalName, input: a.input, header: a.header, identity: 'forlop-embedded-temporal' });
      engine.addEvent(exec, ET.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED, 'externalWorkflowExecutionSignaledEventAttributes', {
        initiatedEventId,
        namespace,
        workflowExecution: { workflowId: target.workflowId, runId: target.runId },
        control: a.control,
      });
    } catch {
      engine.addEvent(exec, ET.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED, 'signalExternalWorkflowExecutionFailedEventAttributes', {
        cause: enums.SignalExternalWorkflowExecutionFailedCause.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND,
        initiatedEventId,
        namespace,
        workflowExecution: a.execution,
        control: a.control,
      });
    }
    engine.scheduleWorkflowTask(exec);
    engine.commitSoon();
  });
}

export function cancelExternal(engine: Engine, exec: Execution, completedId: number, a: Msg): void {
  const namespace = a.namespace || exec.namespace;
  const execution = { workflowId: a.workflowId, runId: a.runId || undefined };
  const initiated = engine.appendEvent(exec, ET.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED, 'requestCancelExternalWorkflowExecutionInitiatedEventAttributes', {
    namespace,
    workflowExecution: execution,
    control: a.control,
    childWorkflowOnly: a.childWorkflowOnly,
    reason: a.reason,
    workflowTaskCompletedEventId: completedId,
  });
  const initiatedEventId = initiated.eventId;
  queueMicrotask(() => {
    if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return;
    try {
      const target = engine.lookup(namespace, execution.workflowId, execution.runId);
      engine.requestCancel(target, a.reason, 'forlop-embedded-temporal', { initiatedEventId, namespace: exec.namespace, execution: { workflowId: exec.workflowId, runId: exec.runId } });
      engine.addEvent(exec, ET.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED, 'externalWorkflowExecutionCancelRequestedEventAttributes', {
        initiatedEventId,
        namespace,
        workflowExecution: { workflowId: target.workflowId, runId: target.runId },
      });
    } catch {
      engine.addEvent(exec, ET.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED, 'requestCancelExternalWorkflowExecutionFailedEventAttributes', {
        cause: enums.CancelExternalWorkflowExecutionFailedCause.CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND,
        initiatedEventId,
        namespace,
        workflowExecution: execution,
        control: a.control,
      });
    }
    engine.scheduleWorkflowTask(exec);
    engine.commitSoon();
  });
}
