/**
 * The embedded server's engine: the core (executions, histories, clock,
 * commit boundary; core.ts) with Temporal's state machines wired to it
 * (machines/*.ts). The service (service.ts) calls the engine; the machines
 * never import it. Every change is synchronous, so one RPC's changes are
 * applied as a unit; the service then commits the touched executions
 * through the storage interface before it answers. Semantics follow
 * Temporal's server and its Java test server (temporalio/sdk-java,
 * temporal-test-server); the map of files is at the top of
 * docs/embedded-temporal.md.
 */
import { Core, type ActivityTaskRef, type EngineOptions, type WorkflowTaskRef } from './core';
import type { Execution, UpdateState } from './model';
import type { Msg } from './proto';
import { Activities } from './machines/activity';
import { ChildWorkflows } from './machines/child-workflow';
import { Commands } from './machines/commands';
import { Queries, type PendingQuery } from './machines/query';
import { SignalsAndCancellation } from './machines/signal-and-cancel';
import { Timers } from './machines/timer';
import { Updates } from './machines/update';
import { WorkflowExecutions, type Continuation } from './machines/workflow-execution';
import { WorkflowTasks } from './machines/workflow-task';

export { AlreadyStarted } from './errors';
export { compactHistory, SYSTEM_SEARCH_ATTRIBUTES, type ActivityTaskRef, type EngineOptions, type WorkflowTaskRef } from './core';

export class Engine extends Core {
  private readonly queryMachine = new Queries(this);
  private readonly updates = new Updates(this);
  private readonly workflowTasks = new WorkflowTasks(this, this.queryMachine, this.updates);
  private readonly workflowExecutions = new WorkflowExecutions(this, this.workflowTasks);
  private readonly timers = new Timers(this);
  private readonly activities = new Activities(this);
  private readonly requests = new SignalsAndCancellation(this);
  private readonly children = new ChildWorkflows(this, this.workflowExecutions, this.workflowTasks, this.requests);
  private readonly commands = new Commands(this, {
    workflowTasks: this.workflowTasks,
    executions: this.workflowExecutions,
    activities: this.activities,
    timers: this.timers,
    children: this.children,
    updates: this.updates,
    queries: this.queryMachine,
  });

  constructor(options: EngineOptions) {
    super(options);
    this.useScheduler(this.workflowTasks);
    // The order machines rebuild their clock entries after a restore, and drop their work when a run closes.
    for (const machine of [this.workflowExecutions, this.timers, this.workflowTasks, this.activities, this.updates, this.queryMachine, this.children]) this.register(machine);
  }

  /** Pending queries by id. */
  get queries(): ReadonlyMap<string, PendingQuery> {
    return this.queryMachine.pendingQueries;
  }

  // Workflow executions (machines/workflow-execution.ts, machines/workflow-task.ts).
  startWorkflow(req: Msg, extra: { parent?: Execution['parent']; continued?: Continuation } = {}): { exec: Execution; started: boolean } {
    return this.workflowExecutions.start(req, extra);
  }
  kickOff(exec: Execution): void {
    this.workflowTasks.kickOff(exec);
  }
  terminate(exec: Execution, reason: string | undefined, details: Msg | undefined, identity: string | undefined): void {
    this.workflowExecutions.terminate(exec, reason, details, identity);
  }

  // Workflow tasks (machines/workflow-task.ts, machines/commands.ts).
  claimWorkflowTask(ref: WorkflowTaskRef, identity: string): Msg | undefined {
    return this.workflowTasks.claim(ref, identity);
  }
  startEagerly(exec: Execution, identity: string): Msg | undefined {
    return this.workflowTasks.startEagerly(exec, identity);
  }
  completeWorkflowTask(req: Msg): { activityTasks: Msg[] } {
    return this.commands.completeWorkflowTask(req);
  }
  failWorkflowTask(req: Msg): void {
    this.workflowTasks.fail(req);
  }
  dropStickyQueue(namespace: string, queue: string): void {
    this.workflowTasks.dropStickyQueue(namespace, queue);
  }

  // Activity tasks (machines/activity.ts).
  claimActivityTask(ref: ActivityTaskRef, identity: string): Msg | undefined {
    return this.activities.claim(ref, identity);
  }
  heartbeat(req: Msg): { cancelRequested: boolean } {
    return this.activities.heartbeat(req);
  }
  completeActivity(req: Msg): void {
    this.activities.complete(req);
  }
  failActivity(req: Msg): void {
    this.activities.fail(req);
  }
  canceledActivity(req: Msg): void {
    this.activities.canceled(req);
  }

  // Signals and cancellation (machines/signal-and-cancel.ts).
  signal(exec: Execution, req: Msg): void {
    this.requests.signal(exec, req);
  }
  requestCancel(exec: Execution, reason: string | undefined, identity: string | undefined): void {
    this.requests.requestCancel(exec, reason, identity);
  }

  // Updates and queries (machines/update.ts, machines/query.ts).
  admitUpdate(exec: Execution, request: Msg): UpdateState {
    return this.updates.admit(exec, request);
  }
  query(exec: Execution, query: Msg, rejectCondition: number): Promise<Msg> {
    return this.queryMachine.query(exec, query, rejectCondition);
  }
  respondQueryTask(req: Msg): void {
    this.queryMachine.respond(req);
  }
}
