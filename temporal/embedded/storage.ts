/**
 * Where the embedded server keeps its state. The engine changes executions in
 * memory, synchronously; every RPC then hands the executions it touched to
 * `commit` and answers only after the commit resolved, so a durable storage
 * (PostgreSQL through PGlite or a server: a later step) loses nothing that a
 * client was told had happened. `load` restores them at start-up.
 */
import type { Execution, NamespaceRecord } from './model';

export interface Snapshot {
  executions: Execution[];
  namespaces: NamespaceRecord[];
  searchAttributes: Record<string, number>;
  clockSkewMs: number;
}

export interface Storage {
  load(): Promise<Snapshot | undefined>;
  commit(executions: Execution[]): Promise<void>;
  close(): Promise<void>;
}

/** Keeps nothing beyond the engine's own memory: for tests and time skipping. */
export class InMemoryStorage implements Storage {
  async load(): Promise<Snapshot | undefined> {
    return undefined;
  }
  async commit(): Promise<void> {}
  async close(): Promise<void> {}
}
