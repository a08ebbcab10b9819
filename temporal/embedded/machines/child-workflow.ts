/**
 * Child workflows and signals/cancellation of external workflows
 * (Temporal's history service: StartChildWorkflowExecution,
 * SignalExternalWorkflowExecution, RequestCancelExternalWorkflowExecution),
 * and what a closing run owes its parent and its children (parent close
 * policies). Owns `exec.children` and the parent link.
 */
import { randomUUID } from 'node:crypto';
import type { Core, Machine } from '../core';
import { AlreadyStarted } from '../errors';
import type { Execution } from '../model';
import { enums, type Msg } from '../proto';
import type { SignalsAndCancellation } from './signal-and-cancel';
import type { WorkflowExecutions } from './workflow-execution';
import type { WorkflowTasks } from './workflow-task';

const ET = enums.EventType;
const WS = enums.WorkflowExecutionStatus;

export class ChildWorkflows implements Machine {
  constructor(
    private readonly core: Core,
    private readonly executions: WorkflowExecutions,
    private readonly workflowTasks: WorkflowTasks,
    private readonly requests: SignalsAndCancellation,
  ) {}


  startChild(exec: Execution, completedId: number, a: Msg): void {
    const namespace = a.namespace || exec.namespace;
    const initiated = this.core.appendEvent(exec, ET.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED, 'startChildWorkflowExecutionInitiatedEventAttributes', {
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
    queueMicrotask(() => this.launch(exec, initiatedEventId, a, namespace));
  }

  private launch(exec: Execution, initiatedEventId: number, a: Msg, namespace: string): void {
    const child = exec.children[initiatedEventId];
    if (!child || exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) return;
    try {
      const { exec: childExec } = this.executions.start(
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
      const started = this.core.addEvent(exec, ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED, 'childWorkflowExecutionStartedEventAttributes', {
        namespace,
        initiatedEventId,
        workflowExecution: { workflowId: childExec.workflowId, runId: childExec.runId },
        workflowType: a.workflowType,
        header: a.header,
      });
      child.startedEventId = started.eventId ?? 0;
      this.workflowTasks.kickOff(childExec);
    } catch (error) {
      delete exec.children[initiatedEventId];
      this.core.addEvent(exec, ET.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED, 'startChildWorkflowExecutionFailedEventAttributes', {
        namespace,
        workflowId: a.workflowId,
        workflowType: a.workflowType,
        cause: enums.StartChildWorkflowExecutionFailedCause.START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS,
        control: a.control,
        initiatedEventId,
      });
      if (!(error instanceof AlreadyStarted)) this.core.options.log?.('child workflow start failed', { error: String(error) });
    }
    this.core.scheduleWorkflowTask(exec);
    this.core.commitSoon();
  }

  private notifyParent(exec: Execution, status: number, outcome: Msg): void {
    const link = exec.parent;
    if (!link) return;
    const parent = this.core.executions.get(`${link.namespace}/${link.workflowId}/${link.runId}`);
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
        this.core.addEvent(parent, ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED, 'childWorkflowExecutionCompletedEventAttributes', { ...common, result: outcome.result });
        break;
      case WS.WORKFLOW_EXECUTION_STATUS_FAILED:
        this.core.addEvent(parent, ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED, 'childWorkflowExecutionFailedEventAttributes', { ...common, failure: outcome.failure, retryState: outcome.retryState });
        break;
      case WS.WORKFLOW_EXECUTION_STATUS_CANCELED:
        this.core.addEvent(parent, ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED, 'childWorkflowExecutionCanceledEventAttributes', { ...common, details: outcome.details });
        break;
      case WS.WORKFLOW_EXECUTION_STATUS_TERMINATED:
        this.core.addEvent(parent, ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED, 'childWorkflowExecutionTerminatedEventAttributes', common);
        break;
      case WS.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
        this.core.addEvent(parent, ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT, 'childWorkflowExecutionTimedOutEventAttributes', { ...common, retryState: enums.RetryState.RETRY_STATE_TIMEOUT });
        break;
    }
    this.core.scheduleWorkflowTask(parent);
  }

  private applyParentClosePolicies(exec: Execution): void {
    for (const child of Object.values(exec.children)) {
      const PCP = enums.ParentClosePolicy;
      if (child.parentClosePolicy === PCP.PARENT_CLOSE_POLICY_ABANDON || !child.runId) continue;
      const runs = this.core.runs.get(`${child.namespace}/${child.workflowId}`);
      const latest = runs && this.core.executions.get(`${child.namespace}/${child.workflowId}/${runs[runs.length - 1]}`);
      if (!latest || latest.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) continue;
      latest.parent = undefined;
      if (child.parentClosePolicy === PCP.PARENT_CLOSE_POLICY_REQUEST_CANCEL) this.requests.requestCancel(latest, 'parent closed (parent close policy REQUEST_CANCEL)', 'forlop-embedded-temporal');
      else this.executions.terminate(latest, 'parent closed (parent close policy TERMINATE)', undefined, 'forlop-embedded-temporal');
    }
    exec.children = {};
  }

  signalExternal(exec: Execution, completedId: number, a: Msg): void {
    const namespace = a.namespace || exec.namespace;
    const initiated = this.core.appendEvent(exec, ET.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED, 'signalExternalWorkflowExecutionInitiatedEventAttributes', {
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
        const target = this.core.lookup(namespace, a.execution?.workflowId, a.execution?.runId);
        this.requests.signal(target, { signalName: a.signalName, input: a.input, header: a.header, identity: 'forlop-embedded-temporal' });
        this.core.addEvent(exec, ET.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED, 'externalWorkflowExecutionSignaledEventAttributes', {
          initiatedEventId,
          namespace,
          workflowExecution: { workflowId: target.workflowId, runId: target.runId },
          control: a.control,
        });
      } catch {
        this.core.addEvent(exec, ET.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED, 'signalExternalWorkflowExecutionFailedEventAttributes', {
          cause: enums.SignalExternalWorkflowExecutionFailedCause.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND,
          initiatedEventId,
          namespace,
          workflowExecution: a.execution,
          control: a.control,
        });
      }
      this.core.scheduleWorkflowTask(exec);
      this.core.commitSoon();
    });
  }

  cancelExternal(exec: Execution, completedId: number, a: Msg): void {
    const namespace = a.namespace || exec.namespace;
    const execution = { workflowId: a.workflowId, runId: a.runId || undefined };
    const initiated = this.core.appendEvent(exec, ET.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED, 'requestCancelExternalWorkflowExecutionInitiatedEventAttributes', {
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
        const target = this.core.lookup(namespace, execution.workflowId, execution.runId);
        this.requests.requestCancel(target, a.reason, 'forlop-embedded-temporal', { initiatedEventId, namespace: exec.namespace, execution: { workflowId: exec.workflowId, runId: exec.runId } });
        this.core.addEvent(exec, ET.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED, 'externalWorkflowExecutionCancelRequestedEventAttributes', {
          initiatedEventId,
          namespace,
          workflowExecution: { workflowId: target.workflowId, runId: target.runId },
        });
      } catch {
        this.core.addEvent(exec, ET.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED, 'requestCancelExternalWorkflowExecutionFailedEventAttributes', {
          cause: enums.CancelExternalWorkflowExecutionFailedCause.CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND,
          initiatedEventId,
          namespace,
          workflowExecution: execution,
          control: a.control,
        });
      }
      this.core.scheduleWorkflowTask(exec);
      this.core.commitSoon();
    });
  }

  /** A child whose start was initiated but not yet made when the server stopped. */
  rearm(exec: Execution): void {
    for (const child of Object.values(exec.children)) {
      if (child.runId) continue;
      const initiated = exec.history[child.initiatedEventId - 1]?.startChildWorkflowExecutionInitiatedEventAttributes;
      if (initiated) queueMicrotask(() => this.launch(exec, child.initiatedEventId, initiated, child.namespace));
    }
  }

  /** The parent hears only of the chain's final run; the children get their parent close policies. */
  close(exec: Execution, status: number, outcome: Msg, next?: Execution): void {
    if (!next) this.notifyParent(exec, status, outcome);
    this.applyParentClosePolicies(exec);
  }
}
