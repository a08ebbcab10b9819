/**
 * Restart after a crash (`npm run bench -- restart`): `forlop start` as a
 * child process (embedded Temporal server on PGlite in the data directory,
 * FHIR store on PGlite, dev IdP), `--families` families (default 1,000)
 * enrolled over the FHIR API as a municipal system does (a Patient and an
 * EpisodeOfCare each, `--concurrency` at once, default 20); once every
 * family's workflow exists, the process is killed (SIGKILL: a crash, not a
 * clean stop) and started again on the same data directory. Measured from
 * the second spawn: until the HTTP API answers (GET /fhir/metadata 200),
 * until a family workflow answers a describe, and until one answers a query
 * (its worker replayed it); the server's 'state loaded' line (executions,
 * ms); the restarted process's peak memory (VmHWM). Target: serving again
 * within 10 s.
 * Options: --families N, --concurrency N, --timeout S (default 600: the
 * whole suite, after which it stops, saying how far it got).
 * BENCH_DEBUG=1 echoes the child processes' output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { enrolThroughApi, freePort, helsestasjonToken } from '../test/support/processes';
import { FAMILY_PATHWAY_WORKFLOW } from '../workflows/messages';
import { numberOption } from './options';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class TimedOut extends Error {}

/** The suite's deadline and where it has got to, for the message when it passes. */
const progress = { deadline: Infinity, done: 'starting forlop' };

async function until<T>(what: string, check: () => Promise<T | undefined | false>, everyMs = 100, timeoutMs = 300_000): Promise<T> {
  const deadline = Math.min(Date.now() + timeoutMs, progress.deadline);
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new TimedOut(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

interface Forlop {
  child: ChildProcess;
  spawnedAt: number;
  lines: string[];
  /** The first log line whose msg is `msg`, parsed. */
  logged(msg: string): Record<string, unknown> | undefined;
  exited: Promise<void>;
}

const children = new Set<ChildProcess>();
const killChildren = () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
};

function startForlop(env: Record<string, string>): Forlop {
  const inherited = { ...process.env };
  // Everything on this machine: the embedded server on durable storage in the data directory, PGlite for FHIR.
  for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'FORLOP_PAYLOAD_KEYS', 'OIDC_ISSUER', 'FORLOP_AUTH', 'FORLOP_MODE']) delete inherited[name];
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'bin', 'forlop.js'), 'start'], { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const lines: string[] = [];
  let partial = '';
  const take = (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const parts = text.split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      if (process.env.BENCH_DEBUG) console.error(`  [forlop ${child.pid}] ${line.slice(0, 300)}`);
    }
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    spawnedAt,
    lines,
    exited,
    logged(msg) {
      for (const line of lines) {
        if (!line.includes(msg)) continue;
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (parsed.msg === msg) return parsed;
        } catch {
          // not a log line
        }
      }
      return undefined;
    },
  };
}

async function stopForlop(f: Forlop, signal: NodeJS.Signals): Promise<void> {
  if (f.child.exitCode !== null || f.child.signalCode !== null) return;
  f.child.kill(signal);
  const timer = setTimeout(() => f.child.kill('SIGKILL'), 30_000);
  await f.exited;
  clearTimeout(timer);
  children.delete(f.child);
}

function memory(pid: number): { hwmMb: number; rssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { hwmMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
}

/** A token from the dev IdP for the helsestasjon demo client (app/dev-idp.ts), as test/support/processes.ts gets one. */
/** A mother and her EpisodeOfCare on the basis programme, due in 150 days. */
async function enrol(api: string, headers: Record<string, string>): Promise<void> {
  const { episodeStatus } = await enrolThroughApi(api, headers);
  if (episodeStatus !== 201) throw new Error(`EpisodeOfCare refused: HTTP ${episodeStatus}`);
}

const RUNNING_FAMILIES = `WorkflowType = '${FAMILY_PATHWAY_WORKFLOW}' AND ExecutionStatus = 'Running'`;

export async function run(args: string[]): Promise<void> {
  const families = numberOption(args, 'families', 1000, 1);
  const concurrency = numberOption(args, 'concurrency', 20, 1);
  progress.deadline = Date.now() + numberOption(args, 'timeout', 600, 1) * 1000;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'forlop-bench-restart-'));
  const env = {
    FORLOP_DATA_DIR: dataDir,
    FORLOP_HTTP_PORT: String(await freePort()),
    FORLOP_EMBEDDED_TEMPORAL_PORT: String(await freePort()),
    FORLOP_TEMPORAL_STORAGE: 'durable',
    FORLOP_LOG_LEVEL: 'info',
  };
  const api = `http://127.0.0.1:${env.FORLOP_HTTP_PORT}/fhir`;
  const temporalAddress = `127.0.0.1:${env.FORLOP_EMBEDDED_TEMPORAL_PORT}`;
  process.once('exit', killChildren);
  let connection: Connection | undefined;
  let first: Forlop | undefined;
  let second: Forlop | undefined;
  try {
    // 1. Families in flight.
    first = startForlop(env);
    const started = first;
    const startedExit = started.exited.then(() => {
      if (started.child.signalCode !== 'SIGKILL') throw new Error(`forlop start exited (${started.child.exitCode ?? started.child.signalCode}):\n${started.lines.slice(-20).join('\n')}`);
    });
    startedExit.catch(() => undefined);
    const ready = await Promise.race([until('forlop start to serve', async () => started.logged('FHIR API and coordinator API listening'), 100, 120_000), startedExit]);
    if (!ready) throw new Error('forlop start did not come up');
    const issuer = started.logged('development OIDC provider running (demo clients; never use in production)')?.issuer as string | undefined;
    if (!issuer) throw new Error('no dev IdP issuer in the log');
    const headers = await helsestasjonToken(issuer);
    const t0 = performance.now();
    let next = 0;
    let enrolled = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, families) }, async () => {
        while (next < families) {
          next++;
          if (Date.now() > progress.deadline) throw new TimedOut('timed out enrolling');
          await enrol(api, headers);
          enrolled++;
          progress.done = `${enrolled} of ${families} families enrolled`;
        }
      }),
    );
    const enrolSeconds = (performance.now() - t0) / 1000;
    connection = await Connection.connect({ address: temporalAddress });
    const conn = connection;
    let running = 0;
    await until('every family workflow to exist', async () => {
      running = Number((await conn.workflowService.countWorkflowExecutions({ namespace: 'default', query: RUNNING_FAMILIES })).count);
      progress.done = `${families} families enrolled, ${running} family workflows running`;
      return running >= families;
    }, 250);
    const flightSeconds = (performance.now() - t0) / 1000;
    const { executions } = await conn.workflowService.listWorkflowExecutions({ namespace: 'default', query: RUNNING_FAMILIES, pageSize: 1 });
    const workflowId = executions[0].execution!.workflowId!;
    await connection.close();
    connection = undefined;
    console.log(`${families} families enrolled over the FHIR API (${concurrency} at once) in ${enrolSeconds.toFixed(1)} s (${(families / enrolSeconds).toFixed(0)}/s); all ${running} family workflows running after ${flightSeconds.toFixed(1)} s`);

    // 2. The crash, and the restart on the same data directory.
    progress.done = `${running} family workflows running; killing forlop`;
    first.child.kill('SIGKILL');
    await first.exited;
    children.delete(first.child);
    second = startForlop(env);
    const restarted = second;
    const restartedExit = restarted.exited.then(() => {
      throw new Error(`restarted forlop start exited (${restarted.child.exitCode ?? restarted.child.signalCode}):\n${restarted.lines.slice(-20).join('\n')}`);
    });
    restartedExit.catch(() => undefined);
    progress.done = `${running} family workflows running; killed and restarted, waiting for it to serve`;
    // From the spawn, at once: the HTTP API, and a connection to the embedded server (retrying quickly) for the describe and the query.
    const since = () => (performance.now() - restarted.spawnedAt) / 1000;
    const httpReady = until('GET /fhir/metadata to answer 200', async () => (await fetch(`${api}/metadata`)).status === 200, 20).then(since);
    const connected = until('a connection to the embedded Temporal server', () => Connection.connect({ address: temporalAddress, connectTimeout: 1000, channelArgs: { 'grpc.initial_reconnect_backoff_ms': 20, 'grpc.max_reconnect_backoff_ms': 100 } }), 20);
    const describeReady = connected.then((c) =>
      until('a family workflow to answer a describe', async () => {
        const d = await c.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId } });
        return d.workflowExecutionInfo?.status === 1 /* RUNNING */;
      }, 20).then(since),
    );
    // A query needs the worker to replay the workflow; its answer stays encrypted (only the worker's key reads it).
    // Each try has a deadline: the embedded server can lose a query handed to the worker while a workflow task is in flight.
    const queryReady = describeReady.then(async () => {
      const c = await connected;
      return until('a family workflow to answer a query', async () => {
        const answer = await c.withDeadline(Date.now() + 2000, () => c.workflowService.queryWorkflow({ namespace: 'default', execution: { workflowId }, query: { queryType: 'pathwayState' } }));
        return Boolean(answer.queryResult);
      }, 20).then(since);
    });
    connected.then((c) => (connection = c)).catch(() => undefined);
    const [httpSeconds, describeSeconds, querySeconds] = await Promise.race([Promise.all([httpReady, describeReady, queryReady]), restartedExit]);
    const conn2 = await connected;
    const loaded = restarted.logged('embedded Temporal server state loaded');
    const mem = memory(restarted.child.pid!);
    // And once the restarted process has caught up with what was in flight: every workflow still running.
    let stillRunning = 0;
    await until('the restarted server to list every family workflow', async () => {
      stillRunning = Number((await conn2.workflowService.countWorkflowExecutions({ namespace: 'default', query: RUNNING_FAMILIES })).count);
      return stillRunning >= running;
    }, 250, 60_000).catch(() => undefined);
    await sleep(5000);
    const settled = memory(restarted.child.pid!);

    console.log(`killed (SIGKILL) with ${running} families in flight, restarted on the same data directory:`);
    console.log(`  state loaded: ${loaded ? `${String(loaded.executions)} executions in ${String(loaded.ms)} ms` : 'no "embedded Temporal server state loaded" line'}`);
    console.log(`  restart to serving (spawn -> GET /fhir/metadata 200): ${httpSeconds.toFixed(1)} s  (target <= 10 s)`);
    console.log(`  spawn -> a family workflow answers a describe: ${describeSeconds.toFixed(1)} s; a query (replayed by the worker): ${querySeconds.toFixed(1)} s`);
    console.log(`  family workflows running after the restart: ${stillRunning} of ${running}`);
    console.log(`  memory of the restarted process: peak RSS (VmHWM) ${mem.hwmMb.toFixed(0)} MB when serving, ${settled.hwmMb.toFixed(0)} MB 5 s later (RSS then ${settled.rssMb.toFixed(0)} MB)`);
  } catch (error) {
    if (!(error instanceof TimedOut)) throw error;
    console.log(`DID NOT FINISH: ${error.message}; got as far as: ${progress.done}`);
    process.exitCode = 1;
  } finally {
    await connection?.close().catch(() => undefined);
    if (second) await stopForlop(second, 'SIGTERM');
    if (first) await stopForlop(first, 'SIGKILL');
    killChildren();
    process.removeListener('exit', killChildren);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
