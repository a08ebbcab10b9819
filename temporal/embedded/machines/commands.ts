/**
 * RespondWorkflowTaskCompleted: the worker's commands and protocol messages,
 * applied in order after WorkflowTaskCompleted, each to the state machine it
 * belongs to (activities, timers, children, the execution itself, updates);
 * markers, search attributes and memo are written here. A completion that
 * would close the run while new events wait is refused (UnhandledCommand).
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import type { Core } from '../core';
import { invalidArgument, RpcError } from '../errors';
import type { Execution } from '../model';
import { enums, type Msg } from '../proto';
import type { Activities } from './activity';
import type { ChildWorkflows } from './child-workflow';
import type { Queries } from './query';
import type { Timers } from './timer';
import type { Updates } from './update';
import type { WorkflowExecutions } from './workflow-execution';
import type { WorkflowTasks } from './workflow-task';

const CT = enums.CommandType;
const ET = enums.EventType;
const WS = enums.WorkflowExecutionStatus;

const TERMINAL_COMMANDS = new Set<number>([
  CT.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
  CT.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION,
  CT.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION,
  CT.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION,
]);

interface CommandContext {
  exec: Execution;
  completedId: number;
  identity: string;
  /** Activity tasks handed straight back to the completing worker that reserved slots (eager dispatch). */
  eagerTasks: Msg[];
}

export interface CommandMachines {
  workflowTasks: WorkflowTasks;
  executions: WorkflowExecutions;
  activities: Activities;
  timers: Timers;
  children: ChildWorkflows;
  updates: Updates;
  queries: Queries;
}

export class Commands {
  private readonly workflowTasks: WorkflowTasks;
  private readonly executions: WorkflowExecutions;
  private readonly activities: Activities;
  private readonly timers: Timers;
  private readonly children: ChildWorkflows;
  private readonly updates: Updates;
  private readonly queries: Queries;

  constructor(
    private readonly core: Core,
    machines: CommandMachines,
  ) {
    ({ workflowTasks: this.workflowTasks, executions: this.executions, activities: this.activities, timers: this.timers, children: this.children, updates: this.updates, queries: this.queries } = machines);
  }

  completeWorkflowTask(req: Msg): { activityTasks: Msg[] } {
    const exec = this.workflowTasks.fromToken(req.taskToken);
    const commands: Msg[] = req.commands ?? [];
    const terminal = commands.find((c) => TERMINAL_COMMANDS.has(c.commandType));
    if (terminal && (exec.buffered.length > 0 || this.updates.hasNew(exec))) {
      // New events arrived while the worker decided to close: it must see them first.
      this.workflowTasks.failInternal(exec, enums.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND, undefined, req.identity, 'server');
      throw new RpcError(grpcStatus.INVALID_ARGUMENT, 'UnhandledCommand');
    }
    const childWithCron = commands.find((c) => c.commandType === CT.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION && c.startChildWorkflowExecutionCommandAttributes?.cronSchedule);
    if (childWithCron) {
      // As Temporal's server does with bad command attributes: the task fails, the worker is told why.
      const message = `StartChildWorkflowExecution for ${childWithCron.startChildWorkflowExecutionCommandAttributes.workflowId}: cronSchedule is not supported by the embedded Temporal server (docs/embedded-temporal.md); run the periodic work as a timer loop in the child`;
      this.workflowTasks.failInternal(exec, enums.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES, { message }, req.identity, 'server');
      throw invalidArgument(message);
    }
    const completedId = this.workflowTasks.recordCompleted(exec, req);
    // Answers to queries that rode on this task.
    for (const [id, result] of Object.entries((req.queryResults ?? {}) as Record<string, Msg>)) this.queries.answer(id, result);
    const messages: Msg[] = req.messages ?? [];
    const byId = new Map(messages.map((m) => [m.id, m]));
    const handled = new Set<string>();
    const ctx: CommandContext = { exec, completedId, identity: String(req.identity ?? ''), eagerTasks: [] };
    for (const command of commands) {
      if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) break;
      if (command.commandType === CT.COMMAND_TYPE_PROTOCOL_MESSAGE) {
        const id = command.protocolMessageCommandAttributes?.messageId;
        const message = byId.get(id);
        if (message) {
          handled.add(id);
          this.updates.apply(exec, message);
        }
        continue;
      }
      this.apply(ctx, command);
    }
    // Messages without a command (rejections) are applied after the commands.
    for (const message of messages) if (!handled.has(message.id) && exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING) this.updates.apply(exec, message);
    this.workflowTasks.finishCompleted(exec, Boolean(req.forceCreateNewWorkflowTask));
    return { activityTasks: exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING ? ctx.eagerTasks : [] };
  }

  private apply(ctx: CommandContext, command: Msg): void {
    const { exec, completedId } = ctx;
    switch (command.commandType) {
      case CT.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
        return this.activities.schedule(exec, completedId, command.scheduleActivityTaskCommandAttributes ?? {}, ctx.identity, ctx.eagerTasks);
      case CT.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
        return this.activities.requestCancel(exec, completedId, Number(command.requestCancelActivityTaskCommandAttributes?.scheduledEventId));
      case CT.COMMAND_TYPE_START_TIMER:
        return this.timers.start(exec, completedId, command.startTimerCommandAttributes ?? {});
      case CT.COMMAND_TYPE_CANCEL_TIMER:
        return this.timers.cancel(exec, completedId, command.cancelTimerCommandAttributes?.timerId);
      case CT.COMMAND_TYPE_RECORD_MARKER: {
        const a = command.recordMarkerCommandAttributes ?? {};
        this.core.appendEvent(exec, ET.EVENT_TYPE_MARKER_RECORDED, 'markerRecordedEventAttributes', { ...a, workflowTaskCompletedEventId: completedId });
        return;
      }
      case CT.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const a = command.upsertWorkflowSearchAttributesCommandAttributes ?? {};
        this.core.appendEvent(exec, ET.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, 'upsertWorkflowSearchAttributesEventAttributes', {
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
        this.core.appendEvent(exec, ET.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED, 'workflowPropertiesModifiedEventAttributes', {
          upsertedMemo: a.upsertedMemo,
          workflowTaskCompletedEventId: completedId,
        });
        exec.memo = { fields: { ...(exec.memo?.fields ?? {}), ...(a.upsertedMemo?.fields ?? {}) } };
        return;
      }
      case CT.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION:
        return this.executions.complete(exec, completedId, command.completeWorkflowExecutionCommandAttributes?.result);
      case CT.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION:
        return this.executions.fail(exec, completedId, command.failWorkflowExecutionCommandAttributes?.failure);
      case CT.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION:
        return this.executions.cancel(exec, completedId, command.cancelWorkflowExecutionCommandAttributes?.details);
      case CT.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION:
        return this.executions.continueAsNew(exec, completedId, command.continueAsNewWorkflowExecutionCommandAttributes ?? {});
      case CT.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
        return this.children.startChild(exec, completedId, command.startChildWorkflowExecutionCommandAttributes ?? {});
      case CT.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION:
        return this.children.signalExternal(exec, completedId, command.signalExternalWorkflowExecutionCommandAttributes ?? {});
      case CT.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION:
        return this.children.cancelExternal(exec, completedId, command.requestCancelExternalWorkflowExecutionCommandAttributes ?? {});
      default:
        throw invalidArgument(`command type ${command.commandType} is not supported by the embedded server`);
    }
  }
}
