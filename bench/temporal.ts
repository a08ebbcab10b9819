/**
 * Embedded Temporal server figures (`npm run bench -- temporal`):
 *  1. trivial workflows/s (start, one activity, complete) with server, worker
 *     and client in one process;
 *  2. signals/s into one running workflow;
 *  3. the server's share of CPU: the same workload with the server in a
 *     child process (`forlop temporal`), whose CPU time is read from
 *     /proc/<pid>/stat and compared with this process's (worker + client).
 * Options: --workflows N (default 1000), --signals N (default 2000), --concurrency N (default 100).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { startEmbeddedTemporal } from '../temporal/embedded';
import * as activities from '../test/temporal/activities';

const workflowsPath = require.resolve('../test/temporal/workflows');

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

async function workload(address: string, workflows: number, signals: number, concurrency: number, label: string, mark?: (phase: 'start' | 'end') => void) {
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  // On loopback gzip only costs CPU: Forløp's worker connects to the embedded server uncompressed.
  const nativeConnection = await NativeConnection.connect({ address, grpcCompression: { codec: 'none' } });
  const taskQueue = `bench-${label}`;
  const worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowsPath, activities, maxConcurrentWorkflowTaskExecutions: 100, maxCachedWorkflows: 1000 });
  const result = await worker.runUntil(async () => {
    // Warm up: bundle loaded, connections open.
    await pool(20, 20, (i) => client.workflow.execute('greet', { taskQueue, workflowId: `${label}-warm-${i}`, args: ['warm'] }));
    mark?.('start');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await pool(workflows, concurrency, (i) => client.workflow.execute('greet', { taskQueue, workflowId: `${label}-wf-${i}`, args: ['bench'] }));
    const wfSeconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    mark?.('end');

    const handle = await client.workflow.start('counter', { taskQueue, workflowId: `${label}-signals` });
    const t1 = performance.now();
    await pool(signals, 20, () => handle.signal('bump', 1));
    await handle.signal('done');
    const total = await handle.result();
    const sigSeconds = (performance.now() - t1) / 1000;
    if (total !== signals) throw new Error(`signals lost: sent ${signals}, workflow counted ${total}`);
    return { wfPerSecond: workflows / wfSeconds, wfSeconds, sigPerSecond: signals / sigSeconds, selfCpuMs: (cpu.user + cpu.system) / 1000 };
  });
  await nativeConnection.close();
  await connection.close();
  return result;
}

function childCpuMs(pid: number): number {
  // /proc/<pid>/stat fields 14 and 15: utime and stime in clock ticks (100 Hz on Linux).
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

export async function run(args: string[]): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const workflows = option(args, 'workflows', 1000);
  const signals = option(args, 'signals', 2000);
  const concurrency = option(args, 'concurrency', 100);

  const server = await startEmbeddedTemporal();
  const inProcess = await workload(server.address, workflows, signals, concurrency, 'in-process');
  await server.stop();
  console.log(`one process (server + worker + client), ${workflows} workflows at concurrency ${concurrency}:`);
  console.log(`  trivial workflows/s (start, one activity, complete): ${inProcess.wfPerSecond.toFixed(0)}  (target >= 150)`);
  console.log(`  signals/s into one workflow (${signals} signals, 20 in flight, none lost): ${inProcess.sigPerSecond.toFixed(0)}`);

  const port = 27233 + Math.floor(Math.random() * 1000);
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'bin', 'forlop.js'), 'temporal', '--port', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && resolve());
      child.once('exit', (code) => reject(new Error(`forlop temporal exited with ${code}`)));
    });
    // The server's CPU over exactly the timed phase that the worker + client CPU covers.
    let serverStart = 0;
    let serverMs = 0;
    const separate = await workload(`127.0.0.1:${port}`, workflows, 0, concurrency, 'separate', (phase) => {
      if (phase === 'start') serverStart = childCpuMs(child.pid!);
      else serverMs = childCpuMs(child.pid!) - serverStart;
    });
    const share = serverMs / (serverMs + separate.selfCpuMs);
    console.log(`server in its own process (same ${workflows} workflows):`);
    console.log(`  trivial workflows/s: ${separate.wfPerSecond.toFixed(0)}`);
    console.log(`  CPU: server ${serverMs.toFixed(0)} ms, worker + client ${separate.selfCpuMs.toFixed(0)} ms -> server share ${(share * 100).toFixed(1)}%  (target <= 20%)`);
  } finally {
    child.kill('SIGTERM');
  }
}
