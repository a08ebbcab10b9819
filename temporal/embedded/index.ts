/**
 * Forløp's embedded Temporal-compatible server: the real @temporalio/worker
 * and @temporalio/client (and the Temporal CLI) talk to it over gRPC.
 * See docs/embedded-temporal.md for what it supports.
 */
import * as grpc from '@grpc/grpc-js';
import { Engine } from './engine';
import { buildServices, indexedValueType } from './service';
import { InMemoryStorage, type Storage } from './storage';

export { InMemoryStorage, type Storage, type Snapshot, type Change } from './storage';
export { SqlStorage, TEMPORAL_SCHEMA_VERSION, type SqlDatabase } from './sql-storage';

export type SearchAttributeType = 'Keyword' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

export interface EmbeddedTemporalOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Namespaces that exist at start; default ['default']. */
  namespaces?: string[];
  /** true: the clock starts locked and jumps ahead when idle, as Temporal's test server. Default false. */
  timeSkipping?: boolean;
  /** The server's time at start (ms since the epoch), e.g. to walk a pathway from a fixed date in tests. Default now. */
  startTime?: number;
  /** Custom search attributes registered at start. */
  searchAttributes?: Record<string, SearchAttributeType>;
  /** Default: in memory. A durable storage (SqlStorage) is loaded at start and written before every answer. */
  storage?: Storage;
  /**
   * With a durable storage: how long closed workflows are kept (ms after close) before they
   * are removed; default 30 days. 0 keeps them for ever.
   */
  retentionMs?: number;
  log?: (msg: string, fields?: object) => void;
}

export interface EmbeddedTemporal {
  /** host:port for Connection.connect / NativeConnection.connect. */
  address: string;
  port: number;
  /** The engine, for in-process tests and benchmarks. */
  engine: Engine;
  stop(): Promise<void>;
}

export async function startEmbeddedTemporal(options: EmbeddedTemporalOptions = {}): Promise<EmbeddedTemporal> {
  const host = options.host ?? '127.0.0.1';
  const searchAttributes: Record<string, number> = {};
  for (const [name, type] of Object.entries(options.searchAttributes ?? {})) {
    const value = indexedValueType(type);
    if (value === undefined) throw new TypeError(`search attribute ${name}: unknown type ${type}; use Keyword, Text, Int, Double, Bool, Datetime or KeywordList`);
    searchAttributes[name] = value;
  }
  const engine = new Engine({ timeSkipping: options.timeSkipping ?? false, startTime: options.startTime, namespaces: options.namespaces ?? ['default'], searchAttributes, log: options.log });
  const storage = options.storage ?? new InMemoryStorage();
  const loadStarted = Date.now();
  const snapshot = await storage.load();
  if (snapshot) {
    engine.restore(snapshot);
    options.log?.('embedded Temporal server state loaded', { executions: snapshot.executions.length, ms: Date.now() - loadStarted });
  }
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 128 * 1024 * 1024,
    'grpc.max_send_message_length': 128 * 1024 * 1024,
    // Channelz bookkeeping costs about 7% of the server's CPU and nothing here reads it.
    'grpc.enable_channelz': 0,
  });
  const services = buildServices(engine, storage);
  for (const { definition, implementation } of services) server.addService(definition, implementation);
  const retentionMs = options.retentionMs ?? 30 * 24 * 3600_000;
  let sweeper: NodeJS.Timeout | undefined;
  if (storage.durable && retentionMs > 0) {
    const sweep = () => {
      const gone = engine.expired(engine.clock.now(), retentionMs);
      if (gone.length > 0) {
        storage.commit({ executions: [], removed: gone.map((e) => e.key), clockSkewMs: engine.clock.skewMs }).catch((error) => options.log?.('removing expired workflows failed', { error: String(error) }));
      }
    };
    sweep();
    sweeper = setInterval(sweep, 3600_000).unref();
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    address: `${host}:${port}`,
    port,
    engine,
    async stop() {
      if (sweeper) clearInterval(sweeper);
      engine.stop();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
      await storage.close();
    },
  };
}
