/**
 * Requests from outside a workflow that it handles in its own code: signals
 * (SignalWorkflowExecution, and from other workflows) and cancellation
 * requests (RequestCancelWorkflowExecution, a parent's close policy, another
 * workflow). Each writes its event (held back while a task is in flight) and
 * asks for a workflow task. Termination, which the workflow does not see
 * coming, closes the run in workflow-execution.ts.
 */
import type { Core } from '../core';
import { invalidArgument, notFound } from '../errors';
import type { Execution } from '../model';
import { enums, type Msg } from '../proto';

const ET = enums.EventType;
const WS = enums.WorkflowExecutionStatus;

export class SignalsAndCancellation {
  constructor(private readonly core: Core) {}

  signal(exec: Execution, req: Msg): void {
    if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) throw notFound('workflow execution already completed');
    if (!req.signalName) throw invalidArgument('signal name is not set on the request');
    this.core.addEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, 'workflowExecutionSignaledEventAttributes', {
      signalName: req.signalName,
      input: req.input,
      identity: req.identity,
      header: req.header,
    });
    this.core.scheduleWorkflowTask(exec);
  }

  requestCancel(exec: Execution, reason: string | undefined, identity: string | undefined, external?: { initiatedEventId: number; namespace: string; execution: Msg }): void {
    if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) throw notFound('workflow execution already completed');
    if (exec.cancelRequested) return;
    exec.cancelRequested = true;
    this.core.addEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED, 'workflowExecutionCancelRequestedEventAttributes', {
      cause: reason,
      identity,
      externalInitiatedEventId: external?.initiatedEventId,
      externalWorkflowExecution: external?.execution,
    });
    this.core.scheduleWorkflowTask(exec);
  }
}
