import { randomBytes } from 'node:crypto';
import { ApplicationFailure, type Payload } from '@temporalio/common';
import {
  decodeFromPayloadsAtIndex,
  decodeOptionalFailureToOptionalError,
  encodeErrorToFailure,
  encodeToPayloads,
  loadDataConverter,
} from '@temporalio/common/lib/internal-non-workflow';
import { AesGcmPayloadCodec, ENCODING_ENCRYPTED, METADATA_KEY_ID, PayloadDecryptionError } from './aes-gcm-codec';
import { createDataConverter } from './data-converter';
import { createKeyRing } from './keys';

const key = () => randomBytes(32).toString('base64');
const text = (bytes?: Uint8Array | null) => new TextDecoder().decode(bytes ?? new Uint8Array());
const jsonPayload = (value: unknown): Payload => ({
  metadata: { encoding: new TextEncoder().encode('json/plain') },
  data: new TextEncoder().encode(JSON.stringify(value)),
});
const secret = { fodselsnummer: '01010112345', name: 'Kari Nordmann' };

describe('AesGcmPayloadCodec', () => {
  const config = { keys: { k1: key() }, currentKeyId: 'k1' };

  it('round-trips a payload and leaves no clear text in the encoded form', async () => {
    const codec = new AesGcmPayloadCodec(config);
    const [encoded] = await codec.encode([jsonPayload(secret)]);
    expect(text(encoded.metadata!.encoding)).toBe(ENCODING_ENCRYPTED);
    expect(text(encoded.metadata![METADATA_KEY_ID])).toBe('k1');
    expect(Buffer.from(encoded.data!).includes('01010112345')).toBe(false);
    expect(Buffer.from(encoded.data!).includes('json/plain')).toBe(false);
    const [decoded] = await codec.decode([encoded]);
    expect(JSON.parse(text(decoded.data))).toEqual(secret);
    expect(text(decoded.metadata!.encoding)).toBe('json/plain');
  });

  it('uses a fresh IV for each payload', async () => {
    const codec = new AesGcmPayloadCodec(config);
    const [a, b] = await codec.encode([jsonPayload(1), jsonPayload(1)]);
    expect(Buffer.from(a.data!).equals(Buffer.from(b.data!))).toBe(false);
  });

  it('refuses a payload whose ciphertext was altered', async () => {
    const codec = new AesGcmPayloadCodec(config);
    const [encoded] = await codec.encode([jsonPayload(secret)]);
    const data = Buffer.from(encoded.data!);
    data[20] ^= 0x01;
    await expect(codec.decode([{ ...encoded, data }])).rejects.toThrow(PayloadDecryptionError);
    await expect(codec.decode([{ ...encoded, data }])).rejects.toThrow('failed authentication with key "k1"');
  });

  it('refuses a payload whose key id metadata was swapped to another valid key', async () => {
    const both = { keys: { k1: config.keys.k1, k2: config.keys.k1 }, currentKeyId: 'k1' };
    const codec = new AesGcmPayloadCodec(both);
    const [encoded] = await codec.encode([jsonPayload(secret)]);
    const swapped = { ...encoded, metadata: { ...encoded.metadata, [METADATA_KEY_ID]: new TextEncoder().encode('k2') } };
    await expect(codec.decode([swapped])).rejects.toThrow('failed authentication with key "k2"');
  });

  it('decrypts with old keys after rotation and encrypts with the current one', async () => {
    const old = new AesGcmPayloadCodec(config);
    const [byOld] = await old.encode([jsonPayload('before rotation')]);
    const rotated = new AesGcmPayloadCodec({ keys: { ...config.keys, k2: key() }, currentKeyId: 'k2' });
    const [byNew] = await rotated.encode([jsonPayload('after rotation')]);
    expect(text(byNew.metadata![METADATA_KEY_ID])).toBe('k2');
    const decoded = await rotated.decode([byOld, byNew]);
    expect(decoded.map((p) => JSON.parse(text(p.data)))).toEqual(['before rotation', 'after rotation']);
  });

  it('names the unknown key id and how to fix it', async () => {
    const [encoded] = await new AesGcmPayloadCodec({ keys: { gone: key() }, currentKeyId: 'gone' }).encode([jsonPayload(1)]);
    await expect(new AesGcmPayloadCodec(config).decode([encoded])).rejects.toThrow(
      'Payload was encrypted with key "gone", which is not configured (known: k1). Add that key',
    );
  });

  it('passes through payloads that were never encrypted', async () => {
    const plain = jsonPayload({ a: 1 });
    const [decoded] = await new AesGcmPayloadCodec(config).decode([plain]);
    expect(decoded).toBe(plain);
  });
});

describe('createKeyRing', () => {
  it('names every configuration problem at once', () => {
    expect(() => createKeyRing({ keys: { short: Buffer.alloc(16).toString('base64'), 'bad id!': key() }, currentKeyId: 'x' })).toThrow(
      /key "short" decodes to 16 bytes, AES-256 needs 32.*key id "bad id!" must match.*currentKeyId "x" is not one of the configured keys/,
    );
  });
});

describe('createDataConverter', () => {
  const converter = loadDataConverter(createDataConverter({ keys: { k1: key() }, currentKeyId: 'k1' }));

  it('encrypts values converted for workflow inputs and results', async () => {
    const payloads = await encodeToPayloads(converter, secret);
    expect(text(payloads![0].metadata!.encoding)).toBe(ENCODING_ENCRYPTED);
    expect(Buffer.from(payloads![0].data!).includes('Nordmann')).toBe(false);
    expect(await decodeFromPayloadsAtIndex(converter, 0, payloads)).toEqual(secret);
  });

  it('encrypts failure messages and stack traces', async () => {
    const failure = await encodeErrorToFailure(converter, ApplicationFailure.nonRetryable('Kari Nordmann 01010112345 not found', 'NotFound'));
    expect(failure.message).not.toContain('Kari');
    expect(failure.stackTrace ?? '').not.toContain('Kari');
    expect(text(failure.encodedAttributes!.metadata!.encoding)).toBe(ENCODING_ENCRYPTED);
    const error = await decodeOptionalFailureToOptionalError(converter, failure);
    expect(error!.message).toBe('Kari Nordmann 01010112345 not found');
  });
});
