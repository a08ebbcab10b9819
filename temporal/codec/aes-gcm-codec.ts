/**
 * AES-256-GCM PayloadCodec: every payload the client or worker sends to
 * Temporal (workflow/activity inputs and results, signals, queries, updates,
 * memo, and failure messages/stack traces via the failure converter) is
 * stored encrypted, so Temporal's database and UI never hold health data in
 * clear text. See https://docs.temporal.io/payload-codec.
 *
 * Runs on the Node side only (client, worker, codec server): workflow code in
 * the sandbox never sees ciphertext nor keys.
 *
 * Wire format of an encrypted payload:
 *   metadata.encoding            = "binary/encrypted"
 *   metadata.encryption-key-id   = key id from configuration
 *   data = 12-byte IV | ciphertext of the whole original Payload (protobuf) | 16-byte GCM tag
 * The original metadata (e.g. "json/plain") is inside the ciphertext. The key
 * id and encoding are bound as additional authenticated data, so swapping the
 * key id or any byte of the data fails authentication.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { createKeyRing, type KeyRing, type PayloadEncryptionConfig } from './keys';

export const ENCODING_ENCRYPTED = 'binary/encrypted';
export const METADATA_ENCODING = 'encoding';
export const METADATA_KEY_ID = 'encryption-key-id';

/** 96-bit IVs are GCM's recommended size (NIST SP 800-38D 8.2); random IVs are safe for < 2^32 messages per key. */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const ProtoPayload = temporal.api.common.v1.Payload;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** Raised when a payload cannot be decrypted; the message says why and what to check. */
export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';
}

function additionalData(keyId: string): Buffer {
  return Buffer.from(`${ENCODING_ENCRYPTED}|${keyId}`, 'utf8');
}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keyRing: KeyRing;

  constructor(config: PayloadEncryptionConfig | KeyRing) {
    this.keyRing = 'get' in config ? config : createKeyRing(config);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encryptOne(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decryptOne(payload));
  }

  private encryptOne(payload: Payload): Payload {
    const keyId = this.keyRing.currentKeyId;
    const key = this.keyRing.get(keyId)!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(additionalData(keyId));
    const plain = ProtoPayload.encode(payload).finish();
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: { [METADATA_ENCODING]: utf8.encode(ENCODING_ENCRYPTED), [METADATA_KEY_ID]: utf8.encode(keyId) },
      data: new Uint8Array(data),
    };
  }

  private decryptOne(payload: Payload): Payload {
    const encoding = payload.metadata?.[METADATA_ENCODING];
    // Payloads written before encryption was enabled (or by other codecs) pass through unchanged.
    if (!encoding || fromUtf8.decode(encoding) !== ENCODING_ENCRYPTED) return payload;
    const keyIdBytes = payload.metadata?.[METADATA_KEY_ID];
    if (!keyIdBytes) {
      throw new PayloadDecryptionError(`Encrypted payload has no "${METADATA_KEY_ID}" metadata; it was not written by this codec.`);
    }
    const keyId = fromUtf8.decode(keyIdBytes);
    const key = this.keyRing.get(keyId);
    if (!key) {
      throw new PayloadDecryptionError(
        `Payload was encrypted with key "${keyId}", which is not configured (known: ${this.keyRing.keyIds().join(', ')}). ` +
          'Add that key to the payload encryption keys; old keys must stay configured until their histories are gone.',
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new PayloadDecryptionError(`Encrypted payload is ${data.length} bytes, shorter than IV + tag; it is truncated.`);
    }
    const iv = data.subarray(0, IV_BYTES);
    const tag = data.subarray(data.length - TAG_BYTES);
    const body = data.subarray(IV_BYTES, data.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(additionalData(keyId));
    decipher.setAuthTag(tag);
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      throw new PayloadDecryptionError(
        `Encrypted payload failed authentication with key "${keyId}": it was altered, or the key material for "${keyId}" differs from the one that encrypted it.`,
      );
    }
    return ProtoPayload.decode(plain);
  }
}
