/**
 * Workflow updates (Temporal's update protocol): admitted by
 * UpdateWorkflowExecution, sent to the worker as protocol messages on the
 * next workflow task, accepted/rejected/completed by the worker's messages.
 * Owns `exec.updates`; stages: 1 admitted (waiting for a task), 2 sent to a
 * worker, 3 accepted, 4 completed, 5 rejected.
 */
import { randomUUID } from 'node:crypto';
import type { Core, Machine } from '../core';
import { invalidArgument, notFound } from '../errors';
import type { Execution, UpdateState } from '../model';
import { enums, packAny, unpackAny, type Msg } from '../proto';

const ET = enums.EventType;
const WS = enums.WorkflowExecutionStatus;

export class Updates implements Machine {
  constructor(private readonly core: Core) {}

  admit(exec: Execution, request: Msg): UpdateState {
    const updateId: string = request.meta?.updateId || randomUUID();
    const existing = exec.updates[updateId];
    if (existing) return existing;
    if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) throw notFound('workflow execution already completed');
    if (!request.input?.name) throw invalidArgument('update name is not set on the request');
    const update: UpdateState = { updateId, name: request.input.name, request: { ...request, meta: { ...request.meta, updateId } }, stage: 1 };
    exec.updates[updateId] = update;
    this.core.scheduleWorkflowTask(exec);
    this.core.touch(exec);
    return update;
  }

  /** Admitted updates no worker has seen yet. */
  hasNew(exec: Execution): boolean {
    return Object.values(exec.updates).some((u) => u.stage === 1);
  }

  /** The request messages for a workflow task being started at `startedEventId`. */
  messagesForTask(exec: Execution, startedEventId: number): Msg[] {
    const messages: Msg[] = [];
    for (const u of Object.values(exec.updates)) {
      if (u.stage === 1) {
        u.stage = 2;
        messages.push({ id: `${u.updateId}/request`, protocolInstanceId: u.updateId, eventId: startedEventId - 1, body: packAny('temporal.api.update.v1.Request', u.request) });
      }
    }
    return messages;
  }

  /** Updates sent with a task that the worker neither accepted nor rejected go back to waiting. */
  unsent(exec: Execution): void {
    for (const u of Object.values(exec.updates)) if (u.stage === 2) u.stage = 1;
  }

  /** Applies a worker's Acceptance, Rejection or Response message. */
  apply(exec: Execution, message: Msg): void {
    const body = unpackAny(message.body);
    const updateId: string = message.protocolInstanceId;
    const update = exec.updates[updateId];
    if (!body || !update) return;
    switch (body.typeName) {
      case 'temporal.api.update.v1.Acceptance': {
        const ev = this.core.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, 'workflowExecutionUpdateAcceptedEventAttributes', {
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
        this.core.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED, 'workflowExecutionUpdateCompletedEventAttributes', {
          meta: body.value.meta ?? { updateId },
          acceptedEventId: update.acceptedEventId,
          outcome: body.value.outcome,
        });
        update.stage = 4;
        update.outcome = body.value.outcome;
        break;
    }
    this.core.touch(exec);
  }

  busy(exec: Execution): number {
    let n = 0;
    for (const u of Object.values(exec.updates)) if (u.stage < 3) n++;
    return n;
  }

  /** Updates still open when the run closes fail, as Temporal's server answers them. */
  close(exec: Execution): void {
    for (const u of Object.values(exec.updates)) {
      if (u.stage < 4) {
        u.stage = 4;
        u.outcome = { failure: { message: 'workflow execution already completed', applicationFailureInfo: { type: 'AcceptedUpdateCompletedWorkflow' } } };
      }
    }
  }
}
