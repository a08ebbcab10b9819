/**
 * The engine's durable state: plain, serialisable records. Everything a
 * restart needs lives here (the storage interface persists these); waiters,
 * node timers and queue positions are rebuilt from it.
 */
import type { Msg } from './proto';

export interface WorkflowTaskState {
  /** 0 none, 1 scheduled, 2 started. */
  state: 0 | 1 | 2;
  scheduledEventId: number;
  startedEventId: number;
  attempt: number;
  /** The queue it is (or was last) dispatched on. */
  queue: string;
  sticky: boolean;
  scheduledAt: number;
  startedAt: number;
  /** Increments with every dispatch so stale tokens are refused. */
  seq: number;
  /** Queries riding on this task, by query id. */
  queries: string[];
}

export interface ActivityState {
  scheduledEventId: number;
  activityId: string;
  activityType: string;
  taskQueue: string;
  header?: Msg;
  input?: Msg;
  attempt: number;
  retryPolicy: Msg;
  scheduleToCloseMs: number;
  scheduleToStartMs: number;
  startToCloseMs: number;
  heartbeatMs: number;
  scheduledAt: number;
  attemptScheduledAt: number;
  /** scheduled (in a queue), started (with a worker), backoff (waiting to retry). */
  state: 'scheduled' | 'started' | 'backoff';
  startedAt: number;
  /** While in backoff: when the next attempt is dispatched. */
  retryAt?: number;
  lastHeartbeatAt: number;
  heartbeatDetails?: Msg;
  lastFailure?: Msg;
  startedIdentity?: string;
  cancelRequested: boolean;
  cancelRequestedEventId: number;
  seq: number;
}

export interface ChildState {
  initiatedEventId: number;
  namespace: string;
  workflowId: string;
  runId?: string;
  startedEventId: number;
  workflowType: string;
  parentClosePolicy: number;
}

export interface UpdateState {
  updateId: string;
  name: string;
  request: Msg;
  /** 1 admitted (waiting for a task), 2 sent to a worker, 3 accepted, 4 completed, 5 rejected. */
  stage: 1 | 2 | 3 | 4 | 5;
  outcome?: Msg;
  acceptedEventId?: number;
}

export interface Execution {
  key: string;
  namespace: string;
  workflowId: string;
  runId: string;
  firstRunId: string;
  workflowType: string;
  taskQueue: string;
  /** WorkflowExecutionStatus: 1 running, 2 completed, 3 failed, 4 canceled, 5 terminated, 6 continued-as-new, 7 timed out. */
  status: number;
  history: Msg[];
  startTime: number;
  executionTime: number;
  closeTime?: number;
  memo?: Msg;
  searchAttributes: Record<string, Msg>;
  workflowTaskTimeoutMs: number;
  runTimeoutMs: number;
  executionTimeoutMs: number;
  /** Virtual ms when the whole chain (across continue-as-new and retries) expires; 0 = never. */
  executionExpiresAt: number;
  retryPolicy?: Msg;
  attempt: number;
  requestId?: string;
  wft: WorkflowTaskState;
  previousStartedEventId: number;
  /** Events that arrived while a workflow task was with a worker. */
  buffered: Msg[];
  stickyQueue?: string;
  stickyTimeoutMs: number;
  activities: Record<number, ActivityState>;
  timers: Record<string, { startedEventId: number; fireAt: number }>;
  children: Record<number, ChildState>;
  parent?: { namespace: string; workflowId: string; runId: string; initiatedEventId: number };
  updates: Record<string, UpdateState>;
  cancelRequested: boolean;
  /** The run that continued this one (continue-as-new or retry), for clients following the chain. */
  nextRunId?: string;
  /** Virtual ms before which the first workflow task is not scheduled (start delay, retry backoff). */
  firstTaskAt: number;
}

export interface NamespaceRecord {
  name: string;
  id: string;
  description: string;
  retentionMs: number;
}
