/**
 * The Forløp worker: the family pathway workflows and their activities on
 * one task queue. The workflow code is bundled at install time into dist/
 * (temporal/build.js); without a fresh prebuilt bundle it is bundled once
 * per process (bundling takes seconds) and shared by every worker made here.
 */
import { readFile } from 'node:fs/promises';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { failureConverterPath as codecFailureConverterPath } from './codec/data-converter';
import { freshOutput } from './prebuilt';

export const WORKFLOWS_PATH = require.resolve('../workflows');

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/**
 * The bundled workflow code, built on first use. A data converter with a
 * failure converter (the payload codec's) needs it inside the bundle.
 */
export function workflowBundle(options: { failureConverterPath?: string } = {}): Promise<WorkflowBundleWithSourceMap> {
  const key = options.failureConverterPath ?? '';
  let bundle = bundles.get(key);
  if (!bundle) bundle = prebuiltBundle(key);
  if (!bundle) {
    const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
    bundle = bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, ...(options.failureConverterPath ? { failureConverterPath: options.failureConverterPath } : {}), logger: quiet as never });
    bundles.set(key, bundle);
  }
  return bundle;
}

/** The install-time bundle for this failure converter (none, or the payload codec's) while it is fresh. */
function prebuiltBundle(failureConverterPath: string): Promise<WorkflowBundleWithSourceMap> | undefined {
  const variant = failureConverterPath === '' ? 'plain' : failureConverterPath === codecFailureConverterPath ? 'codec' : undefined;
  const file = variant && freshOutput(`workflows/${variant}.js`);
  if (!file) return undefined;
  const bundle = readFile(file, 'utf8').then((code) => ({ code, sourceMap: '' })) // the source map is inline in the code (bundleWorkflowCode's own shape);
  bundles.set(failureConverterPath, bundle);
  return bundle;
}

export interface ForlopWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  /** Activity implementations, e.g. createPathwayActivities({ fhir, plans }). */
  activities: object;
  /** The payload codec (AES-256-GCM) goes here in production. */
  dataConverter?: DataConverter;
  maxConcurrentWorkflowTaskExecutions?: number;
  maxConcurrentActivityTaskExecutions?: number;
  /** Threads running workflow code (the SDK's default is 1). */
  workflowThreadPoolSize?: number;
  /** Workflows kept in the worker's cache between tasks (the SDK's default follows the heap size). */
  maxCachedWorkflows?: number;
}

export async function createForlopWorker(options: ForlopWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue,
    workflowBundle: await workflowBundle({ failureConverterPath: options.dataConverter?.failureConverterPath }),
    activities: options.activities,
    ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
    ...(options.maxConcurrentWorkflowTaskExecutions ? { maxConcurrentWorkflowTaskExecutions: options.maxConcurrentWorkflowTaskExecutions } : {}),
    ...(options.maxConcurrentActivityTaskExecutions ? { maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions } : {}),
    ...(options.workflowThreadPoolSize ? { workflowThreadPoolSize: options.workflowThreadPoolSize } : {}),
    ...(options.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: options.maxCachedWorkflows } : {}),
  });
}
