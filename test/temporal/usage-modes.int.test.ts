/**
 * The embedded server's three ways of use beyond in-process: a standalone
 * process (`forlop temporal`), and an executable that @temporalio/testing
 * starts itself for createTimeSkipping() and createLocal().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import * as grpc from '@grpc/grpc-js';
import { startEmbeddedTemporal } from '../../temporal/embedded';
import * as activities from './activities';

Runtime.install({ logger: new DefaultLogger('WARN') });
const root = path.join(__dirname, '..', '..');
const executable = path.join(root, 'bin', 'temporal-embedded');
const workflowsPath = require.resolve('./workflows');

async function runGreeting(env: { client: Client; nativeConnection: Worker['options']['connection'] }, taskQueue: string): Promise<string> {
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowsPath, activities });
  return worker.runUntil(env.client.workflow.execute('greet', { taskQueue, workflowId: `greet-${taskQueue}`, args: ['executable'] }));
}

it('runs as a standalone process that clients connect to (forlop temporal)', async () => {
  const port = 17233 + Math.floor(Math.random() * 1000);
  const child: ChildProcess = spawn(process.execPath, [path.join(root, 'bin', 'forlop.js'), 'temporal', '--port', String(port), '--namespace', 'kommune'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && resolve());
      child.once('exit', (code) => reject(new Error(`forlop temporal exited with ${code}`)));
    });
    const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    const client = new Client({ connection, namespace: 'kommune' });
    const handle = await client.workflow.start('counter', { taskQueue: 'standalone', workflowId: 'standalone-1' });
    expect((await handle.describe()).status.name).toBe('RUNNING');
    const namespaces = await connection.workflowService.listNamespaces({});
    expect(namespaces.namespaces.map((n) => n.namespaceInfo?.name).sort()).toEqual(['default', 'kommune']);
    await connection.close();
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  expect(child.exitCode).toBe(0);
});

it('is accepted by @temporalio/testing as the time-skipping test server (<path> <port>)', async () => {
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: executable } } });
  try {
    expect(env.supportsTimeSkipping).toBe(true);
    const before = await env.currentTimeMs();
    await env.sleep('30 days');
    expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(30 * 24 * 3600_000);
    expect(await runGreeting(env, 'time-skipping')).toBe('Hello, executable!');
  } finally {
    await env.teardown();
  }
});

it('is accepted by @temporalio/testing as the local dev server (<path> server start-dev ...)', async () => {
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: executable }, searchAttributes: [{ name: 'FamilyPhase', type: 'KEYWORD' }] },
  });
  try {
    expect(env.supportsTimeSkipping).toBe(false);
    const listed = await env.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(listed.customAttributes)).toContain('FamilyPhase');
    expect(await runGreeting(env, 'local')).toBe('Hello, executable!');
  } finally {
    await env.teardown();
  }
});

it('answers a malformed request with INVALID_ARGUMENT and keeps serving', async () => {
  const server = await startEmbeddedTemporal();
  try {
    const raw = new grpc.Client(server.address, grpc.credentials.createInsecure());
    const call = (method: string, body: Buffer) =>
      new Promise<grpc.ServiceError | null>((resolve) =>
        raw.makeUnaryRequest(`/temporal.api.workflowservice.v1.WorkflowService/${method}`, (b: Buffer) => b, (b: Buffer) => b, body, (error) => resolve(error)),
      );
    const garbage = await call('StartWorkflowExecution', Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x01]));
    expect(garbage?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(garbage?.details).toMatch(/malformed StartWorkflowExecution request/);
    const empty = await call('StartWorkflowExecution', Buffer.alloc(0));
    expect(empty?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(empty?.details).toBe('WorkflowId is not set on request.');
    const badToken = await call('RespondWorkflowTaskCompleted', Buffer.from([0x0a, 0x03, 0x61, 0x62, 0x63]));
    expect(badToken?.code).toBe(grpc.status.INVALID_ARGUMENT);
    raw.close();
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const handle = await client.workflow.start('counter', { taskQueue: 'after-garbage', workflowId: 'still-serving' });
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await connection.close();
  } finally {
    await server.stop();
  }
});
