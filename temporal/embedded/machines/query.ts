/**
 * Queries (https://docs.temporal.io/develop/typescript/message-passing#queries):
 * a query rides on a scheduled workflow task, waits behind one in flight, or
 * goes to a worker as a legacy query task with the full history (idle or
 * closed workflows). Owns the pending queries; reads the workflow task's
 * state and its `queries` list.
 */
import { randomUUID } from 'node:crypto';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { Core, Machine } from '../core';
import { notFound, RpcError } from '../errors';
import type { Execution } from '../model';
import { enums, type Msg } from '../proto';
import { parseToken, token } from '../task-token';

const WS = enums.WorkflowExecutionStatus;
const QUERY_TIMEOUT_MS = 30_000;

export interface PendingQuery {
  id: string;
  key: string;
  query: Msg;
  resolve: (result: Msg) => void;
  reject: (error: Error) => void;
  /** 'waiting' for a task to finish, 'riding' on a scheduled task, 'dispatched' as a query task. */
  state: 'waiting' | 'riding' | 'dispatched';
}

export class Queries implements Machine {
  readonly pendingQueries = new Map<string, PendingQuery>();

  constructor(private readonly core: Core) {}

  query(exec: Execution, query: Msg, rejectCondition: number): Promise<Msg> {
    if (rejectCondition === enums.QueryRejectCondition.QUERY_REJECT_CONDITION_NOT_OPEN && exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) {
      return Promise.resolve({ queryRejected: { status: exec.status } });
    }
    if (rejectCondition === enums.QueryRejectCondition.QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY &&
      exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING && exec.status !== WS.WORKFLOW_EXECUTION_STATUS_COMPLETED) {
      return Promise.resolve({ queryRejected: { status: exec.status } });
    }
    return new Promise((resolve, reject) => {
      // A worker that takes a query and never answers (it died) must not hold the caller for ever.
      const timer = setTimeout(() => {
        if (!this.pendingQueries.delete(q.id)) return;
        reject(new RpcError(grpcStatus.DEADLINE_EXCEEDED, `query ${query.queryType ?? ''} was not answered within ${QUERY_TIMEOUT_MS / 1000} s: is a worker polling task queue ${exec.taskQueue}?`));
      }, QUERY_TIMEOUT_MS);
      timer.unref();
      const settle = <T>(fn: (value: T) => void) => (value: T) => {
        clearTimeout(timer);
        fn(value);
      };
      const q: PendingQuery = { id: randomUUID(), key: exec.key, query, resolve: settle(resolve), reject: settle(reject), state: 'waiting' };
      this.pendingQueries.set(q.id, q);
      if (exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING || exec.wft.state === 0) this.dispatch(q);
      else if (exec.wft.state === 1) {
        q.state = 'riding';
        exec.wft.queries.push(q.id);
      }
      // state 2: waits for the task to finish (requeue).
      this.core.clock.maybeSkip();
    });
  }

  /** After a workflow task ends: queries that rode on it or waited behind it go on the next task or as query tasks. */
  requeue(exec: Execution, riding: string[]): void {
    for (const q of this.pendingQueries.values()) {
      if (q.key !== exec.key || q.state === 'dispatched') continue;
      if (q.state === 'riding' && !riding.includes(q.id) && exec.wft.queries.includes(q.id)) continue;
      if (exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING && exec.wft.state === 1) {
        q.state = 'riding';
        if (!exec.wft.queries.includes(q.id)) exec.wft.queries.push(q.id);
      } else if (exec.wft.state === 0 || exec.status !== WS.WORKFLOW_EXECUTION_STATUS_RUNNING) {
        this.dispatch(q);
      } else {
        q.state = 'waiting';
      }
    }
  }

  private dispatch(q: PendingQuery): void {
    const exec = this.core.executions.get(q.key)!;
    q.state = 'dispatched';
    this.core.workflowQueues.push(`${exec.namespace}/${exec.taskQueue}`, { kind: 'query', id: q.id });
  }

  /** The queries riding on a workflow task, for its poll response. */
  riding(exec: Execution): Record<string, Msg> | undefined {
    const queries: Record<string, Msg> = {};
    for (const id of exec.wft.queries) {
      const q = this.pendingQueries.get(id);
      if (q) queries[id] = q.query;
    }
    return Object.keys(queries).length > 0 ? queries : undefined;
  }

  claim(id: string): Msg | undefined {
    const q = this.pendingQueries.get(id);
    if (!q || q.state !== 'dispatched') return undefined;
    const exec = this.core.executions.get(q.key)!;
    if (exec.status === WS.WORKFLOW_EXECUTION_STATUS_RUNNING && exec.wft.state !== 0) {
      // A workflow task came along since the query was queued (a signal, a timer). A query task
      // now would carry that task's events, and the SDK would take it for a workflow task and
      // drop it: the query rides on the scheduled task instead, or waits for the one in flight.
      if (exec.wft.state === 1) {
        q.state = 'riding';
        exec.wft.queries.push(q.id);
      } else {
        q.state = 'waiting';
      }
      return undefined;
    }
    return {
      taskToken: token({ query: id }),
      workflowExecution: { workflowId: exec.workflowId, runId: exec.runId },
      workflowType: { name: exec.workflowType },
      history: { events: exec.history },
      query: q.query,
      workflowExecutionTaskQueue: { name: exec.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      // 0 marks a query-only task: the SDK core then answers it from its cached run (or a replay)
      // instead of taking it for a workflow task, which it would buffer behind one in flight.
      startedEventId: 0,
      previousStartedEventId: exec.previousStartedEventId,
      attempt: 1,
    };
  }

  respond(req: Msg): void {
    const t = parseToken(req.taskToken);
    if (!t || typeof t.query !== 'string' || !this.pendingQueries.has(t.query)) throw notFound('query task not found: it was answered or timed out');
    this.answer(t.query, { resultType: req.completedType, answer: req.queryResult, errorMessage: req.errorMessage, failure: req.failure });
  }

  answer(id: string, result: Msg): void {
    const q = this.pendingQueries.get(id);
    if (!q) return;
    this.pendingQueries.delete(id);
    if (result.resultType === enums.QueryResultType.QUERY_RESULT_TYPE_FAILED) {
      q.reject(new RpcError(grpcStatus.INVALID_ARGUMENT, result.errorMessage || result.failure?.message || 'query failed'));
    } else {
      q.resolve({ queryResult: result.answer });
    }
    this.core.clock.maybeSkip();
  }

  /** A closed run is answered from its full history by query tasks. */
  close(exec: Execution): void {
    for (const q of this.pendingQueries.values()) if (q.key === exec.key && q.state !== 'dispatched') this.dispatch(q);
  }

  pending(): number {
    return this.pendingQueries.size;
  }

  stop(): void {
    for (const q of this.pendingQueries.values()) q.reject(new RpcError(grpcStatus.UNAVAILABLE, 'server is shutting down'));
    this.pendingQueries.clear();
  }
}
