/**
 * A family's workflow data as Temporal stores it: every payload (the input
 * with its FHIR references and dates, activity inputs, signals, query and
 * update answers, the result) encrypted by the AES-256-GCM codec, and nothing
 * personal in the workflow id. Read through the raw history, as someone with
 * access to Temporal's database but not the key would see it.
 */
import { randomBytes } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { createDataConverter } from '../../temporal/codec';
import { recordEventUpdate } from '../../workflows/messages';
import { startFamily, type PathwayHarness } from './harness';

jest.setTimeout(120_000);
let family: PathwayHarness | undefined;
afterEach(async () => family?.close());

it('keeps every payload of a family pathway encrypted, and the family readable with the key', async () => {
  const dataConverter = createDataConverter({ keys: { k1: randomBytes(32).toString('base64') }, currentKeyId: 'k1' });
  family = await startFamily({ definition: 'Basisprogram', enrolment: '2026-11-03', dueDate: '2027-06-01', dataConverter });
  const view = await family.handle.executeUpdate(recordEventUpdate, { args: [{ type: 'screening-recorded', instrument: 'epds', score: 12, date: '2026-11-03' }] });
  expect(view.phase?.id).toBe('pregnancy');
  await family.sleepUntil('2026-11-20');

  // Raw history, without the codec.
  const raw = await Connection.connect({ address: family.env.embedded.address });
  try {
    const { history } = await raw.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: family.handle.workflowId } });
    const payloads: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }[] = [];
    const collect = (value: unknown): void => {
      if (!value || typeof value !== 'object') return;
      if (value instanceof Uint8Array) return;
      const v = value as { metadata?: Record<string, Uint8Array>; data?: Uint8Array };
      if (v.metadata && 'encoding' in v.metadata) payloads.push(v);
      for (const child of Object.values(value)) collect(child);
    };
    collect(history);
    expect(payloads.length).toBeGreaterThan(5);
    // The one exception is Temporal's own: the SDK core writes a patch marker (and the TemporalChangeVersion search
    // attribute) for each workflow patch outside the payload codec. They carry only the patch id, a name in our code.
    const patchMarker = (p: { data?: Uint8Array | null }) => {
      const text = Buffer.from(p.data ?? []).toString();
      return /^\{"id":"[a-z0-9-]+","deprecated":(true|false)\}$/.test(text) || /^\["[a-z0-9-]+"(,"[a-z0-9-]+")*\]$/.test(text);
    };
    for (const p of payloads.filter((q) => !patchMarker(q))) expect(Buffer.from(p.metadata!.encoding).toString()).toBe('binary/encrypted');
    const everything = Buffer.concat(payloads.map((p) => Buffer.from(p.data ?? []))).toString('latin1');
    for (const secret of ['Patient/mother-1', 'Practitioner/coordinator-1', '2027-06-01', 'epds']) expect(everything).not.toContain(secret);
  } finally {
    await raw.close();
  }
  expect(family.handle.workflowId).toMatch(/^family-[0-9a-f-]{36}$/);
  // With the key the CarePlan was written as usual.
  expect((await family.carePlan()).status).toBe('active');
});
