/**
 * The codec inside a real Temporal worker (Rust core + workflow sandbox):
 * a recorded history whose payloads are encrypted replays with the key, also
 * after rotation, and fails with a clear error without it. No server needed.
 */
import { randomBytes } from 'node:crypto';
import type { Payload } from '@temporalio/common';
import { encodeToPayloads, loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, Runtime, Worker, DefaultLogger, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createDataConverter, type PayloadEncryptionConfig } from './index';

const EventType = temporal.api.enums.v1.EventType;
const key1 = { keys: { k1: randomBytes(32).toString('base64') }, currentKeyId: 'k1' };
const input = { familyId: 'family-42', note: 'Kari Nordmann 01010112345' };
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./fixtures/workflows'),
    failureConverterPath: createDataConverter(key1).failureConverterPath,
    logger: new DefaultLogger('WARN'),
  });
});

async function encrypted(config: PayloadEncryptionConfig, value: unknown): Promise<Payload[]> {
  return (await encodeToPayloads(loadDataConverter(createDataConverter(config)), value))!;
}

/** A completed run of `acknowledge`, as Temporal's history service would store it. */
async function recordedHistory(config: PayloadEncryptionConfig) {
  const time = { seconds: 1_800_000_000 };
  const taskQueue = { name: 'codec-test' };
  const events = [
    {
      eventType: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
      workflowExecutionStartedEventAttributes: {
        workflowType: { name: 'acknowledge' },
        taskQueue,
        input: { payloads: await encrypted(config, input) },
        workflowTaskTimeout: { seconds: 10 },
        originalExecutionRunId: 'run-1',
        firstExecutionRunId: 'run-1',
        attempt: 1,
        workflowId: 'family-42',
      },
    },
    { eventType: EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, workflowTaskScheduledEventAttributes: { taskQueue, startToCloseTimeout: { seconds: 10 }, attempt: 1 } },
    { eventType: EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, workflowTaskStartedEventAttributes: { scheduledEventId: 2, identity: 'test', requestId: 'r1' } },
    { eventType: EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, workflowTaskCompletedEventAttributes: { scheduledEventId: 2, startedEventId: 3, identity: 'test' } },
    {
      eventType: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
      workflowExecutionCompletedEventAttributes: {
        result: { payloads: await encrypted(config, 'acknowledged family-42 (25 characters)') },
        workflowTaskCompletedEventId: 4,
      },
    },
  ].map((event, i) => ({ eventId: i + 1, eventTime: time, ...event }));
  // fromObject accepts plain numbers for the int64 fields (event ids).
  return temporal.api.history.v1.History.fromObject({ events });
}

const replay = (config: PayloadEncryptionConfig, history: temporal.api.history.v1.IHistory) =>
  Worker.runReplayHistory({ workflowBundle: bundle, dataConverter: createDataConverter(config) }, history, 'family-42');

describe('AES-GCM codec in a Temporal worker', () => {
  it('stores no clear text in the recorded history', async () => {
    const bytes = Buffer.from(temporal.api.history.v1.History.encode(await recordedHistory(key1)).finish());
    expect(bytes.includes('01010112345')).toBe(false);
    expect(bytes.includes('Nordmann')).toBe(false);
    expect(bytes.includes('binary/encrypted')).toBe(true);
  });

  it('replays an encrypted history with its key', async () => {
    await expect(replay(key1, await recordedHistory(key1))).resolves.toBeUndefined();
  });

  it('replays an old history after key rotation', async () => {
    const rotated = { keys: { ...key1.keys, k2: randomBytes(32).toString('base64') }, currentKeyId: 'k2' };
    await expect(replay(rotated, await recordedHistory(key1))).resolves.toBeUndefined();
  });

  it('fails the replay without the key, and the failure it reports is itself encrypted', async () => {
    const other = { keys: { k9: randomBytes(32).toString('base64') }, currentKeyId: 'k9' };
    const error = await replay(other, await recordedHistory(key1)).then(() => undefined, (e: Error) => e);
    // The workflow task failed decoding its input (PayloadDecryptionError naming key "k1", in the worker log);
    // the failure message went through the failure converter and the codec, so only "Encoded failure" shows.
    expect(error?.message).toMatch(/^Replay failed due workflow task failure.*message: "Encoded failure".*encoded_attributes: Some/);
    expect(error?.message).not.toContain('not configured');
  });
});
