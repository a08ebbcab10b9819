/**
 * Durable storage for the embedded server in PostgreSQL (schema `temporal`):
 * PGlite in a data directory on one machine, or a PostgreSQL server. The
 * caller opens the database (anything with `query` and `transaction`), so
 * this module brings no driver of its own.
 *
 *  - execution: one row per run, its state as JSON (bytes as base64) without
 *    the history; replaced on every change.
 *  - history: the run's events, appended in chunks (protobuf, as workers get
 *    them); an event once stored never changes.
 *  - meta: namespaces, search attribute types, the clock's skew.
 *
 * Commits are applied in the order they came, and commits that arrive while
 * one is being written go together in the next transaction (group commit),
 * so many RPCs at once cost few transactions. If a write fails the storage
 * refuses every later commit: the engine's memory is then ahead of the
 * database and the server must be restarted to reload from it.
 */
import type { Execution, NamespaceRecord } from './model';
import { decodeEvents, encodeEvents, type Msg } from './proto';
import type { Change, Snapshot, Storage } from './storage';

export interface SqlQueryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

export interface SqlDatabase extends SqlQueryable {
  transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const MIGRATIONS: string[] = [
  // 1: runs, their histories in chunks, and server-wide settings.
  `CREATE TABLE temporal.execution (key text PRIMARY KEY, seq bigserial NOT NULL, status integer NOT NULL, close_time bigint, state text NOT NULL);
   CREATE TABLE temporal.history (key text NOT NULL, first_event_id integer NOT NULL, events bytea NOT NULL, PRIMARY KEY (key, first_event_id));
   CREATE TABLE temporal.meta (name text PRIMARY KEY, value text NOT NULL)`,
];

export const TEMPORAL_SCHEMA_VERSION = MIGRATIONS.length;

export async function migrateTemporalSchema(db: SqlDatabase): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(74290002)');
    await tx.query('CREATE SCHEMA IF NOT EXISTS temporal');
    await tx.query('CREATE TABLE IF NOT EXISTS temporal.schema_version (version integer NOT NULL)');
    const { rows } = await tx.query<{ version: number | null }>('SELECT max(version) AS version FROM temporal.schema_version');
    const current = Number(rows[0]?.version ?? 0);
    if (current > TEMPORAL_SCHEMA_VERSION) {
      throw new Error(
        `The embedded Temporal server's database has schema version ${current}, newer than this Forløp understands (${TEMPORAL_SCHEMA_VERSION}). Run a newer Forløp, or restore a backup made for this version.`,
      );
    }
    for (let v = current + 1; v <= TEMPORAL_SCHEMA_VERSION; v++) {
      for (const statement of MIGRATIONS[v - 1].split(';').map((s) => s.trim()).filter(Boolean)) await tx.query(statement);
      await tx.query('INSERT INTO temporal.schema_version (version) VALUES ($1)', [v]);
    }
  });
}

interface ExecutionRow {
  key: string;
  status: number;
  closeTime: number | null;
  state: string;
}
interface HistoryRow {
  key: string;
  firstEventId: number;
  events: Buffer;
}
interface Batch {
  executions: Map<string, ExecutionRow>;
  history: HistoryRow[];
  removed: Set<string>;
  meta: Map<string, string>;
}

/** JSON that keeps bytes (as base64) and the links between held-back events. */
function bytesReplacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (raw instanceof Uint8Array) return { $b: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
  return value;
}
function bytesReviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && typeof (value as { $b?: unknown }).$b === 'string') return Buffer.from((value as { $b: string }).$b, 'base64');
  return value;
}

function serialiseState(exec: Execution): string {
  const { history, buffered, ...rest } = exec;
  // An activity's closing event may point at its started event while both are held back (engine.addClosingEvent).
  const held = buffered.map((event) => (event.fixStartedFrom ? { ...event, fixStartedFrom: { $held: buffered.indexOf(event.fixStartedFrom) } } : event));
  return JSON.stringify({ ...rest, historyLength: history.length, buffered: held }, bytesReplacer);
}

function parseState(text: string, history: Msg[]): Execution {
  const state = JSON.parse(text, bytesReviver) as Execution & { historyLength: number };
  if (history.length !== state.historyLength) {
    throw new Error(`execution ${state.key}: ${history.length} history events stored, its state expects ${state.historyLength}; the database is damaged`);
  }
  const buffered = state.buffered;
  for (const event of buffered) if (event.fixStartedFrom && typeof event.fixStartedFrom.$held === 'number') event.fixStartedFrom = buffered[event.fixStartedFrom.$held];
  const { historyLength: _, ...exec } = state;
  return { ...exec, history };
}

const CHUNK_ROWS = 500;

export class SqlStorage implements Storage {
  readonly durable = true;
  /** Events already handed to the database, per execution. */
  private readonly persisted = new Map<string, number>();
  private queue: { batch: Batch; resolve: () => void; reject: (error: Error) => void }[] = [];
  private writing = false;
  private broken: Error | undefined;
  private lastSkew = 0;

  private constructor(private readonly db: SqlDatabase, private readonly closeDb: boolean) {}

  /** Migrates the schema (refusing a newer one) and returns the storage. `closeDb`: close the database with the storage. */
  static async open(db: SqlDatabase, options: { closeDb?: boolean } = {}): Promise<SqlStorage> {
    await migrateTemporalSchema(db);
    return new SqlStorage(db, options.closeDb ?? true);
  }

  async load(): Promise<Snapshot | undefined> {
    const meta = new Map((await this.db.query<{ name: string; value: string }>('SELECT name, value FROM temporal.meta')).rows.map((r) => [r.name, r.value]));
    const histories = new Map<string, Msg[]>();
    for (const row of (await this.db.query<{ key: string; events: Uint8Array }>('SELECT key, events FROM temporal.history ORDER BY key, first_event_id')).rows) {
      const events = decodeEvents(row.events);
      const list = histories.get(row.key);
      if (list) list.push(...events);
      else histories.set(row.key, events);
    }
    const executions: Execution[] = [];
    for (const row of (await this.db.query<{ state: string; key: string }>('SELECT key, state FROM temporal.execution ORDER BY seq')).rows) {
      const exec = parseState(row.state, histories.get(row.key) ?? []);
      this.persisted.set(exec.key, exec.history.length);
      executions.push(exec);
    }
    if (executions.length === 0 && meta.size === 0) return undefined;
    this.lastSkew = Number(meta.get('clockSkewMs') ?? 0);
    return {
      executions,
      namespaces: JSON.parse(meta.get('namespaces') ?? '[]') as NamespaceRecord[],
      searchAttributes: JSON.parse(meta.get('searchAttributes') ?? '{}') as Record<string, number>,
      clockSkewMs: this.lastSkew,
    };
  }

  commit(change: Change): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    // Everything is taken from the executions now: they change as soon as this returns.
    const batch: Batch = { executions: new Map(), history: [], removed: new Set(change.removed ?? []), meta: new Map() };
    for (const exec of change.executions) {
      batch.executions.set(exec.key, { key: exec.key, status: exec.status, closeTime: exec.closeTime ?? null, state: serialiseState(exec) });
      const from = this.persisted.get(exec.key) ?? 0;
      if (exec.history.length > from) {
        batch.history.push({ key: exec.key, firstEventId: from + 1, events: encodeEvents(exec.history.slice(from)) });
        this.persisted.set(exec.key, exec.history.length);
      }
    }
    for (const key of batch.removed) this.persisted.delete(key);
    if (change.meta) {
      batch.meta.set('namespaces', JSON.stringify(change.meta.namespaces));
      batch.meta.set('searchAttributes', JSON.stringify(change.meta.searchAttributes));
    }
    if (change.clockSkewMs !== this.lastSkew) {
      batch.meta.set('clockSkewMs', String(change.clockSkewMs));
      this.lastSkew = change.clockSkewMs;
    }
    if (batch.executions.size === 0 && batch.removed.size === 0 && batch.meta.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ batch, resolve, reject });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    while (this.queue.length > 0) {
      const waiting = this.queue.splice(0);
      try {
        if (this.broken) throw this.broken;
        await this.write(merge(waiting.map((w) => w.batch)));
        for (const w of waiting) w.resolve();
      } catch (error) {
        this.broken ??= new Error(`the embedded Temporal server could not store its state and must be restarted: ${(error as Error).message}`);
        for (const w of waiting) w.reject(this.broken);
      }
    }
    this.writing = false;
  }

  private async write(batch: Batch): Promise<void> {
    const executions = [...batch.executions.values()].filter((row) => !batch.removed.has(row.key));
    const history = batch.history.filter((row) => !batch.removed.has(row.key));
    await this.db.transaction(async (tx) => {
      for (let i = 0; i < executions.length; i += CHUNK_ROWS) {
        const rows = executions.slice(i, i + CHUNK_ROWS);
        await tx.query(
          `INSERT INTO temporal.execution (key, status, close_time, state) VALUES ${placeholders(rows.length, 4)}
           ON CONFLICT (key) DO UPDATE SET status = excluded.status, close_time = excluded.close_time, state = excluded.state`,
          rows.flatMap((r) => [r.key, r.status, r.closeTime, r.state]),
        );
      }
      for (let i = 0; i < history.length; i += CHUNK_ROWS) {
        const rows = history.slice(i, i + CHUNK_ROWS);
        await tx.query(
          `INSERT INTO temporal.history (key, first_event_id, events) VALUES ${placeholders(rows.length, 3)} ON CONFLICT DO NOTHING`,
          rows.flatMap((r) => [r.key, r.firstEventId, r.events]),
        );
      }
      if (batch.removed.size > 0) {
        const keys = [...batch.removed];
        await tx.query('DELETE FROM temporal.history WHERE key = ANY($1::text[])', [keys]);
        await tx.query('DELETE FROM temporal.execution WHERE key = ANY($1::text[])', [keys]);
      }
      for (const [name, value] of batch.meta) {
        await tx.query('INSERT INTO temporal.meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [name, value]);
      }
    });
  }

  async close(): Promise<void> {
    while (this.writing || this.queue.length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    if (this.closeDb) await this.db.close();
  }
}

function merge(batches: Batch[]): Batch {
  if (batches.length === 1) return batches[0];
  const merged: Batch = { executions: new Map(), history: [], removed: new Set(), meta: new Map() };
  for (const b of batches) {
    for (const [key, row] of b.executions) merged.executions.set(key, row);
    merged.history.push(...b.history);
    for (const key of b.removed) merged.removed.add(key);
    for (const [name, value] of b.meta) merged.meta.set(name, value);
  }
  return merged;
}

function placeholders(rows: number, columns: number): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) out.push(`(${Array.from({ length: columns }, (_, c) => `$${r * columns + c + 1}`).join(', ')})`);
  return out.join(', ');
}
