/**
 * The DataConverter shared by the Temporal client and worker: default JSON
 * payload converter, failure converter that encodes messages and stack
 * traces, and the AES-256-GCM codec. Pass the same object to
 * `new Client({ dataConverter })` and `Worker.create({ dataConverter })`.
 * Search attributes are never encoded by codecs (Temporal indexes them), so
 * they must carry no personal data at all (DESIGN.md, Decisions).
 */
import type { DataConverter } from '@temporalio/common';
import { AesGcmPayloadCodec } from './aes-gcm-codec';
import type { PayloadEncryptionConfig } from './keys';

/** Absolute path of the failure converter module, for the worker's workflow bundle too. */
export const failureConverterPath = require.resolve('./failure-converter');

export function createDataConverter(encryption: PayloadEncryptionConfig): DataConverter {
  return {
    failureConverterPath,
    payloadCodecs: [new AesGcmPayloadCodec(encryption)],
  };
}
