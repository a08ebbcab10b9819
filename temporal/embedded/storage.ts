/**
 * Where the embedded server keeps its state. The engine changes executions in
 * memory, synchronously; every RPC then hands what it touched to `commit`
 * and answers only after the commit resolved, so a durable storage
 * (sql-storage.ts: PostgreSQL through PGlite or a server) loses nothing a
 * client was told had happened. `load` restores it at start-up.
 */
import type { Execution, NamespaceRecord } from './model';

export interface Snapshot {
  executions: Execution[];
  namespaces: NamespaceRecord[];
  searchAttributes: Record<string, number>;
  clockSkewMs: number;
}

export interface Change {
  /** Executions as they are now (their histories only grow). */
  executions: Execution[];
  /** Closed executions past their retention: to be removed. */
  removed?: string[];
  /** Present when namespaces or search attributes changed. */
  meta?: { namespaces: NamespaceRecord[]; searchAttributes: Record<string, number> };
  clockSkewMs: number;
}

export interface Storage {
  /** false: state lives only as long as the process (tests, time skipping). */
  readonly durable: boolean;
  load(): Promise<Snapshot | undefined>;
  /**
   * Stores a change. Must take what it needs from the executions before it
   * returns (they go on changing) and apply changes in the order they came.
   */
  commit(change: Change): Promise<void>;
  close(): Promise<void>;
}

/** Keeps nothing beyond the engine's own memory: for tests and time skipping. */
export class InMemoryStorage implements Storage {
  readonly durable = false;
  async load(): Promise<Snapshot | undefined> {
    return undefined;
  }
  async commit(): Promise<void> {}
  async close(): Promise<void> {}
}
