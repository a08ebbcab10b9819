/**
 * The embedded server's core: workflow executions and their histories, the
 * namespaces and search attribute types, the clock and its entries, the task
 * queues, and the commit boundary (the set of executions a change touched,
 * which the service commits once per RPC before it answers).
 *
 * The state machines (machines/*.ts: workflow task, commands, activities,
 * timers, children, signals/cancel/terminate, updates, queries) import the
 * core; the core imports none of them. What the core needs from them it
 * reaches through the small Machine interface they register (rebuild after a
 * restore, drop work when a run closes, outstanding work that holds time
 * skipping) and through the one WorkflowTaskScheduler port, the way
 * Temporal's mutable state reaches its workflow task manager.
 *
 * Every change is synchronous, so one RPC's changes are applied as a unit.
 */
import { randomUUID } from 'node:crypto';
import { VirtualClock } from './clock';
import { alreadyExists, invalidArgument, notFound } from './errors';
import type { Execution, NamespaceRecord } from './model';
import type { Snapshot } from './storage';
import { decodeEvents, encodeEvents, enums, timestamp, type Msg } from './proto';
import { TaskQueues } from './task-queues';

const WS = enums.WorkflowExecutionStatus;

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

/** What a state machine tells the core about its part of an execution. */
export interface Machine {
  /** After a restore: rebuild this machine's clock entries and queued tasks for a running execution. */
  rearm?(exec: Execution): void;
  /** A run closes with `status`: drop this machine's pending work. `next` is the run that continues the chain. */
  close?(exec: Execution, status: number, outcome: Msg, next?: Execution): void;
  /** Pieces of this machine's work outstanding on a running execution: each holds a time-skipping lock. */
  busy?(exec: Execution): number;
  /** Pieces of work outstanding outside any one execution (queries). */
  pending?(): number;
  /** The server stops. */
  stop?(): void;
}

/** The port through which any machine asks for a workflow task (machines/workflow-task.ts implements it). */
export interface WorkflowTaskScheduler {
  scheduleWorkflowTask(exec: Execution): void;
}

export class Core {
  readonly clock: VirtualClock;
  readonly workflowQueues = new TaskQueues<WorkflowTaskRef>();
  readonly activityQueues = new TaskQueues<ActivityTaskRef>();
  readonly executions = new Map<string, Execution>();
  /** namespace/workflowId -> runIds, newest last. */
  readonly runs = new Map<string, string[]>();
  readonly namespaces = new Map<string, NamespaceRecord>();
  /** Custom search attributes: name -> IndexedValueType. */
  readonly searchAttributeTypes = new Map<string, number>();
  /** Executions changed since the last commit. */
  readonly dirty = new Set<string>();
  /** Namespaces or search attribute types changed since the last commit. */
  metaDirty = true;
  /** Keys of running executions. */
  readonly running = new Set<string>();
  /** Work done outside an RPC (a timer fired, a child launched after a task) is committed by the service's background flush. */
  onBackgroundChange?: () => void;
  private readonly changeWaiters = new Map<string, Set<() => void>>();
  private readonly clockIds = new Map<string, number>();
  private readonly machines: Machine[] = [];
  private scheduler?: WorkflowTaskScheduler;
  private taskSeq = 1;

  constructor(readonly options: EngineOptions) {
    this.clock = new VirtualClock(options.timeSkipping, () => this.outstanding(), options.startTime);
    for (const name of options.namespaces) this.registerNamespace(name, '', 3 * 24 * 3600_000);
    for (const [name, type] of Object.entries(options.searchAttributes)) this.searchAttributeTypes.set(name, type);
  }

  // ---------------------------------------------------------------- machines

  /** Machines are asked in the order they register (rearm, close). */
  register(machine: Machine): void {
    this.machines.push(machine);
  }

  useScheduler(scheduler: WorkflowTaskScheduler): void {
    this.scheduler = scheduler;
  }

  /** New work for the workflow: schedules a workflow task unless one is scheduled or in flight. */
  scheduleWorkflowTask(exec: Execution): void {
    this.scheduler!.scheduleWorkflowTask(exec);
  }

  /** Sequence numbers of dispatches: a task token carries one, so stale tokens are refused. */
  nextSeq(): number {
    return this.taskSeq++;
  }

  /** Rebuilds a running execution's clock entries and tasks, machine by machine. */
  rearm(exec: Execution): void {
    this.running.add(exec.key);
    for (const m of this.machines) m.rearm?.(exec);
  }

  /** Tells every machine that a run closed. */
  closed(exec: Execution, status: number, outcome: Msg, next?: Execution): void {
    for (const m of this.machines) m.close?.(exec, status, outcome, next);
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
   * (run lists, task queues, clock entries) from the records: each machine
   * re-arms its own part (scheduled tasks are queued again; a task that was
   * with a worker is handed out again after its timeout unless that worker
   * completes it first; timers that came due while the server was down fire
   * now, once).
   */
  restore(snapshot: Snapshot): void {
    for (const ns of snapshot.namespaces) this.namespaces.set(ns.name, ns);
    for (const [name, type] of Object.entries(snapshot.searchAttributes)) this.searchAttributeTypes.set(name, type);
    if (snapshot.clockSkewMs > 0) this.clock.advanceTo(Date.now() + snapshot.clockSkewMs);
    for (const exec of snapshot.executions) {
      this.executions.set(exec.key, exec);
      this.addRun(exec);
      this.taskSeq = Math.max(this.taskSeq, exec.wft.seq + 1, ...Object.values(exec.activities).map((a) => a.seq + 1));
    }
    for (const exec of snapshot.executions) {
      if (exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING) this.rearm(exec);
      else compactHistory(exec);
    }
    // Namespaces named at this start that the storage did not have yet are stored with the first commit.
    this.metaDirty = true;
  }

  /** Records a new run of its workflow id (newest last). */
  addRun(exec: Execution): void {
    const runsKey = `${exec.namespace}/${exec.workflowId}`;
    const runs = this.runs.get(runsKey);
    if (runs) runs.push(exec.runId);
    else this.runs.set(runsKey, [exec.runId]);
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

  // ---------------------------------------------------------------- the commit boundary

  /** Marks an execution changed (committed with this RPC), wakes its history long polls, lets time skip. */
  touch(exec: Execution): void {
    this.dirty.add(exec.key);
    const waiters = this.changeWaiters.get(exec.key);
    if (waiters) {
      this.changeWaiters.delete(exec.key);
      for (const w of waiters) w();
    }
    this.clock.maybeSkip();
  }

  /** Work done outside an RPC is committed by the service's background flush. */
  commitSoon(): void {
    this.onBackgroundChange?.();
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

  /** Work outstanding (workflow tasks, activities, queries, updates): each piece holds a time-skipping lock. */
  outstanding(): number {
    let n = 0;
    for (const m of this.machines) n += m.pending?.() ?? 0;
    for (const key of this.running) {
      const exec = this.executions.get(key)!;
      for (const m of this.machines) n += m.busy?.(exec) ?? 0;
    }
    return n;
  }


  // ---------------------------------------------------------------- clock entries

  /** Arms a named clock entry (replacing one of the same name); work it does is committed in the background. */
  schedule(name: string, at: number, fire: () => void): void {
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

  cancelScheduled(name: string): void {
    const id = this.clockIds.get(name);
    if (id !== undefined) {
      this.clock.cancel(id);
      this.clockIds.delete(name);
    }
  }

  // ---------------------------------------------------------------- events

  /** Writes an event; while a workflow task is with a worker the event is held back. */
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
  appendEvent(exec: Execution, eventType: number, attrName: string, attrs: Msg): Msg {
    const event: Msg = { eventId: exec.history.length + 1, eventTime: timestamp(this.clock.now()), eventType, taskId: exec.history.length + 1, [attrName]: attrs };
    exec.history.push(event);
    this.touch(exec);
    return event;
  }

  /** Writes the events held back while a task was in flight; returns how many. */
  flushBuffered(exec: Execution): number {
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

  stop(): void {
    this.clock.stop();
    this.workflowQueues.releaseAll();
    this.activityQueues.releaseAll();
    for (const m of this.machines) m.stop?.();
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
