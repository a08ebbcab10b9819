/**
 * Crash recovery, with real processes killed by SIGKILL at chosen points and
 * started again on the same state:
 *  1. the Temporal server, right after it accepted a signal;
 *  2. the Temporal server, between a workflow task's poll and its
 *     completion (the poll is made by this test, standing in for a worker
 *     that dies with the task);
 *  3. the worker, while an activity runs: its FHIR writes are done, its
 *     completion not yet reported (FORLOP_FAULT_ACTIVITY_COMPLETION_DELAY_MS,
 *     a fault-injection setting for this test, holds it back);
 *  4. the HTTP server, during a FHIR write that will signal a workflow.
 * After each: every workflow goes on from where it was, nothing is lost or
 * applied twice, FHIR effects exist once, the FHIR store and the workflow
 * states agree, and every history replays without nondeterminism.
 *
 * Two set-ups: the embedded server on PGlite with `forlop start` (HTTP,
 * worker, router on a PGlite FHIR store) as a second process; and, where a
 * PostgreSQL server is given (FORLOP_TEST_RECOVERY_DATABASE_URL, which .ci/run
 * sets), the embedded server, `forlop serve` and `forlop worker` as three
 * processes on that server.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import pg from 'pg';
import { familyIdOf } from '../../events/router';
import { createDataConverter } from '../../temporal/codec';
import { workflowBundle } from '../../temporal/worker';
import { enums } from '../../temporal/embedded/proto';
import { familyWorkflowId, pathwayStateQuery, pauseSignal } from '../../workflows/messages';
import type { PathwayState } from '../../workflows/pathway-state';
import { enrolThroughApi, freePort, helsestasjonHeaders, spawnForlop, until, type ForlopProcess } from '../support/processes';

Runtime.install({ logger: new DefaultLogger('ERROR') });
jest.setTimeout(240_000);

const ET = enums.EventType;
const stackUrl = process.env.FORLOP_TEST_RECOVERY_DATABASE_URL;
const setups: [string, boolean][] = [['PGlite', false]];
if (stackUrl) setups.push(['a PostgreSQL server', true]);

describe.each(setups)('kill and restart, on %s', (_name, onServer) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'forlop-recovery-'));
  const payloadKey = randomBytes(32).toString('base64');
  const dataConverter = createDataConverter({ keys: { k1: payloadKey }, currentKeyId: 'k1' });
  let temporalPort = 0;
  let httpPort = 0;
  let temporal: ForlopProcess | undefined;
  /** forlop start (PGlite), or forlop serve and forlop worker (server). */
  let serve: ForlopProcess | undefined;
  let worker: ForlopProcess | undefined;
  let connection: Connection | undefined;
  let client: Client;
  let headers: Record<string, string> = {};
  const api = () => `http://127.0.0.1:${httpPort}/fhir`;

  const appEnv = (extra: Record<string, string> = {}) => ({
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    FORLOP_DATA_DIR: dataDir,
    FORLOP_HTTP_PORT: String(httpPort),
    FORLOP_PAYLOAD_KEYS: `k1:${payloadKey}`,
    ...(onServer ? { DATABASE_URL: stackUrl! } : {}),
    ...extra,
  });

  async function startTemporal(): Promise<void> {
    const storage = onServer ? ['--database-url', stackUrl!] : ['--data-dir', path.join(dataDir, 'temporal')];
    temporal = spawnForlop(['temporal', '--port', String(temporalPort), ...storage], {});
    await until(() => temporal!.output().includes('listening'), 'the Temporal server');
  }

  const alive = (p: ForlopProcess | undefined) => Boolean(p && p.child.exitCode === null && p.child.signalCode === null);

  /** Starts whichever of the application's processes is not running. */
  async function startApp(extra: Record<string, string> = {}): Promise<void> {
    if (!onServer) {
      if (!alive(serve)) serve = worker = spawnForlop(['start'], appEnv(extra));
    } else {
      if (!alive(serve)) serve = spawnForlop(['serve'], appEnv());
      if (!alive(worker)) worker = spawnForlop(['worker'], appEnv(extra));
    }
    await until(() => worker!.output().includes('pathway worker running'), 'the worker');
    await until(() => serve!.output().includes('following the FHIR change feed'), 'the HTTP server');
    headers = await helsestasjonHeaders(serve!.output(), 'system/*.cruds');
  }

  async function kill(p: ForlopProcess | undefined): Promise<void> {
    if (!p || p.child.exitCode !== null) return;
    p.child.kill('SIGKILL');
    await p.exited;
  }

  const fhir = async <T>(method: string, url: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${api()}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as T };
  };
  const search = async (url: string) => ((await fhir<{ entry?: { resource: { id: string } }[] }>('GET', url)).body.entry ?? []).map((e) => e.resource);
  const state = (familyId: string) => client.workflow.getHandle(familyWorkflowId(familyId)).query(pathwayStateQuery) as Promise<PathwayState>;

  async function enrol(): Promise<{ patient: string; familyId: string }> {
    const { motherId, episodeId, episodeStatus } = await enrolThroughApi(api(), headers);
    expect(episodeStatus).toBe(201);
    return { patient: `Patient/${motherId}`, familyId: familyIdOf(episodeId) };
  }

  const epds = (patient: string, score: number) => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '99046-5' }] },
    subject: { reference: patient },
    effectiveDateTime: today(),
    valueInteger: score,
  });
  const screenings = (s: PathwayState) => s.timeline.filter((e) => e.what.startsWith('Edinburgh')).length;

  let families: { patient: string; familyId: string }[] = [];

  beforeAll(async () => {
    if (onServer) {
      const pool = new pg.Pool({ connectionString: stackUrl });
      await pool.query('DROP SCHEMA IF EXISTS fhir CASCADE');
      await pool.query('DROP SCHEMA IF EXISTS temporal CASCADE');
      await pool.end();
    }
    [temporalPort, httpPort] = [await freePort(), await freePort()];
    await startTemporal();
    await startApp();
    connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
    client = new Client({ connection, dataConverter });
    families = [await enrol(), await enrol(), await enrol()];
    for (const f of families) await until(async () => Boolean(await state(f.familyId).catch(() => undefined)), 'the family workflow');
  });

  afterAll(async () => {
    await connection?.close();
    for (const p of [serve, worker, temporal]) await kill(p);
  });

  it('1: the Temporal server killed right after it accepted a signal: the signal is applied once', async () => {
    const family = families[0];
    const pause = { date: today(), reason: 'crash test', eventId: 'recovery:pause-1' };
    await client.workflow.getHandle(familyWorkflowId(family.familyId)).signal(pauseSignal, pause);
    await kill(temporal);
    await startTemporal();
    await until(async () => (await state(family.familyId).catch(() => undefined))?.status === 'paused', 'the pause, after the restart');
    // A client that did not hear the answer sends the same signal again: still applied once.
    await client.workflow.getHandle(familyWorkflowId(family.familyId)).signal(pauseSignal, pause);
    await settle();
    const s = await state(family.familyId);
    expect(s.timeline.filter((e) => e.what.toLowerCase().includes('paus'))).toHaveLength(1);
    expect(s.applied.filter((id) => id === 'recovery:pause-1')).toHaveLength(1);
  });

  it('2: the Temporal server killed between a workflow task poll and its completion: the task is handed out again after its timeout', async () => {
    const family = families[1];
    await kill(worker);
    await client.workflow.getHandle(familyWorkflowId(family.familyId)).signal(pauseSignal, { date: today(), eventId: 'recovery:pause-2' });
    // A worker that polls the task and dies with it (its sticky queue is gone too: the task moves to the normal queue).
    let polled: { workflowExecution?: { workflowId?: string | null } | null } = {};
    await until(async () => {
      polled = await connection!.workflowService.pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: 'forlop', kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL }, identity: 'doomed-worker' });
      return polled.workflowExecution?.workflowId === familyWorkflowId(family.familyId);
    }, 'the workflow task, polled by the doomed worker');
    await kill(temporal);
    await startTemporal();
    const described = await client.workflow.getHandle(familyWorkflowId(family.familyId)).describe();
    expect(described.raw.pendingWorkflowTask?.state).toBe(enums.PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED);
    await startApp();
    await until(async () => (await state(family.familyId).catch(() => undefined))?.status === 'paused', 'the pause, once the task timed out and went to the new worker');
    const events = (await client.workflow.getHandle(familyWorkflowId(family.familyId)).fetchHistory()).events!;
    expect(events.filter((e) => e.eventType === ET.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT).length).toBeGreaterThanOrEqual(1);
    expect(events.filter((e) => e.eventType === ET.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED && e.workflowExecutionSignaledEventAttributes?.signalName === 'pause')).toHaveLength(1);
  });

  it('3: the worker killed while an activity runs, after its FHIR writes: the retry writes nothing twice', async () => {
    const family = families[2];
    // Restart the worker with its activities' completions held back.
    await kill(worker);
    await startApp({ FORLOP_FAULT_ACTIVITY_COMPLETION_DELAY_MS: '120000' });
    expect((await fhir('POST', '/Observation', epds(family.patient, 16))).status).toBe(201);
    await until(async () => (await search(`/Task?patient=${family.patient}`)).length > 0, 'the handoff Task, written by the activity');
    await kill(worker);
    await startApp();
    // The attempt times out (start-to-close 30 s) and is retried by the new worker.
    await until(async () => ((await state(family.familyId).catch(() => undefined))?.handoffs.length ?? 0) > 0 && (await handoffsSettled(family.familyId)), 'the retried activities', 1000, 120_000);
    const tasks = await search(`/Task?patient=${family.patient}`);
    expect(tasks).toHaveLength(1);
    expect(await search(`/ServiceRequest?patient=${family.patient}`)).toHaveLength(1);
    expect((await state(family.familyId)).handoffs).toHaveLength(1);
    expect(await search(`/CarePlan?subject=${family.patient}`)).toHaveLength(1);
  });

  it('4: the HTTP server killed during a FHIR write that will signal a workflow: the store and the workflow agree', async () => {
    const family = families[0];
    const before = screenings(await state(family.familyId));
    const observationsBefore = (await search(`/Observation?subject=${family.patient}`)).length;
    const write = fetch(`${api()}/Observation`, { method: 'POST', headers, body: JSON.stringify(epds(family.patient, 2)) }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 15));
    await kill(serve);
    await write;
    await startApp();
    const stored = (await search(`/Observation?subject=${family.patient}`)).length - observationsBefore;
    expect([0, 1]).toContain(stored);
    await until(async () => screenings(await state(family.familyId)) === before + stored, 'the workflow to agree with the store');
    await settle();
    expect(screenings(await state(family.familyId))).toBe(before + stored);
  });

  it('afterwards: every history replays without nondeterminism, and the store and the workflows agree', async () => {
    for (const family of families) {
      const s = await state(family.familyId);
      expect((await search(`/Task?patient=${family.patient}`)).length).toBe(s.handoffs.length);
      expect(await search(`/CarePlan?subject=${family.patient}`)).toHaveLength(1);
    }
    const histories = [];
    for await (const info of client.workflow.list()) histories.push({ workflowId: info.workflowId, history: await client.workflow.getHandle(info.workflowId, info.runId).fetchHistory() });
    expect(histories.length).toBeGreaterThanOrEqual(families.length);
    const bundle = await workflowBundle({ failureConverterPath: dataConverter.failureConverterPath });
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: bundle, dataConverter }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });

  /** Every handoff workflow of the family has no activity in flight. */
  async function handoffsSettled(familyId: string): Promise<boolean> {
    for await (const info of client.workflow.list({ query: `WorkflowId STARTS_WITH "handoff-${familyId}"` })) {
      const d = await client.workflow.getHandle(info.workflowId, info.runId).describe();
      if ((d.raw.pendingActivities ?? []).length > 0) return false;
    }
    const d = await client.workflow.getHandle(familyWorkflowId(familyId)).describe();
    return (d.raw.pendingActivities ?? []).length === 0;
  }
});

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** Time for a duplicate to arrive if one were coming. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 1500));
