/**
 * The embedded server on durable storage (PGlite in a directory, and a
 * PostgreSQL server where FORLOP_TEST_DATABASE_URL is set): a workflow that
 * spans a restart of the server goes on where it was, its timer that came due
 * while the server was down fires once, and the storage refuses a newer
 * schema than it knows. The kill-and-restart suite with separate processes
 * is test/recovery/.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import pg from 'pg';
import { openPglite, openPostgres } from '../../fhir/store/db';
import * as activities from './activities';
import { startEmbeddedTemporal, SqlStorage, TEMPORAL_SCHEMA_VERSION, type SqlDatabase } from '../../temporal/embedded';
import { enums } from '../../temporal/embedded/proto';

Runtime.install({ logger: new DefaultLogger('WARN') });
jest.setTimeout(60_000);
const workflowsPath = require.resolve('./workflows');
const ET = enums.EventType;

type Open = () => Promise<SqlDatabase>;
const backends: [string, Open][] = [];
const dir = mkdtempSync(path.join(tmpdir(), 'forlop-temporal-'));
backends.push(['PGlite', () => openPglite(dir)]);
const serverUrl = process.env.FORLOP_TEST_DATABASE_URL;
if (serverUrl) {
  backends.push([
    'PostgreSQL server',
    async () => {
      const pool = new pg.Pool({ connectionString: serverUrl });
      await pool.query('DROP SCHEMA IF EXISTS temporal CASCADE');
      await pool.end();
      return openPostgres(serverUrl);
    },
  ]);
}

describe.each(backends)('durable storage on %s', (_name, open) => {
  let port = 0;
  let db: SqlDatabase | undefined;

  async function serve(database: SqlDatabase) {
    const server = await startEmbeddedTemporal({ port, storage: await SqlStorage.open(database, { closeDb: false }), namespaces: ['default'] });
    port = server.port;
    const connection = await Connection.connect({ address: server.address });
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    const worker = await Worker.create({ connection: nativeConnection, taskQueue: 'durable', workflowsPath, activities });
    const running = worker.run();
    return {
      server,
      client: new Client({ connection }),
      async stop() {
        worker.shutdown();
        await running;
        await nativeConnection.close();
        await connection.close();
        await server.stop();
      },
    };
  }

  afterAll(async () => db?.close());

  it('carries a workflow across a restart: signals, a timer that came due while down, an activity, a child', async () => {
    db = await open();
    const first = await serve(db);
    const handle = await first.client.workflow.start('restartable', { taskQueue: 'durable', workflowId: 'durable-1', args: [1500] });
    await handle.signal('bump', 1);
    await until(async () => (await handle.fetchHistory()).events!.some((e) => e.eventType === ET.EVENT_TYPE_TIMER_STARTED));
    await first.stop();
    // Down for longer than the timer: it fires when the server is back, once.
    await new Promise((resolve) => setTimeout(resolve, 2000));

    const second = await serve(db);
    try {
      const again = second.client.workflow.getHandle('durable-1');
      expect((await again.describe()).status.name).toBe('RUNNING');
      await until(async () => (await again.fetchHistory()).events!.some((e) => e.eventType === ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED));
      await again.signal('bump', 2);
      expect(await again.result()).toEqual({ signals: [1, 2], greeting: 'Hello, again!', child: 'child of durable-1' });
      const events = (await again.fetchHistory()).events!;
      expect(events.filter((e) => e.eventType === ET.EVENT_TYPE_TIMER_FIRED)).toHaveLength(1);
      expect(events.filter((e) => e.eventType === ET.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)).toHaveLength(2);
      expect(events.map((e) => Number(e.eventId))).toEqual(events.map((_, i) => i + 1));
      expect((await second.client.workflow.getHandle('durable-1-child').describe()).status.name).toBe('COMPLETED');
    } finally {
      await second.stop();
    }
  });

  it('keeps closed workflows for the retention period, then removes them', async () => {
    db ??= await open();
    const first = await serve(db);
    try {
      await first.client.workflow.execute('greet', { taskQueue: 'durable', workflowId: 'durable-retained', args: ['x'] });
    } finally {
      await first.stop();
    }
    const kept = await startEmbeddedTemporal({ storage: await SqlStorage.open(db, { closeDb: false }), retentionMs: 3600_000 });
    expect(kept.engine.runs.has('default/durable-retained')).toBe(true);
    await kept.stop();
    const swept = await startEmbeddedTemporal({ storage: await SqlStorage.open(db, { closeDb: false }), retentionMs: 1 });
    expect(swept.engine.runs.has('default/durable-retained')).toBe(false);
    await swept.stop();
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM temporal.execution WHERE key LIKE 'default/durable-retained/%'`);
    expect(rows[0].n).toBe(0);
    const history = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM temporal.history WHERE key LIKE 'default/durable-retained/%'`);
    expect(history.rows[0].n).toBe(0);
  });

  it('refuses a database with a newer schema than it knows, saying what to do', async () => {
    db ??= await open();
    await db.query('INSERT INTO temporal.schema_version (version) VALUES ($1)', [TEMPORAL_SCHEMA_VERSION + 1]);
    try {
      await expect(SqlStorage.open(db, { closeDb: false })).rejects.toThrow(
        `The embedded Temporal server's database has schema version ${TEMPORAL_SCHEMA_VERSION + 1}, newer than this Forløp understands (${TEMPORAL_SCHEMA_VERSION}). Run a newer Forløp, or restore a backup made for this version.`,
      );
    } finally {
      await db.query('DELETE FROM temporal.schema_version WHERE version > $1', [TEMPORAL_SCHEMA_VERSION]);
    }
  });
});

async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
