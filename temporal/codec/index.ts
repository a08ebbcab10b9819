export { AesGcmPayloadCodec, PayloadDecryptionError, ENCODING_ENCRYPTED, METADATA_KEY_ID } from './aes-gcm-codec';
export { createDataConverter, failureConverterPath } from './data-converter';
export { createKeyRing, type KeyRing, type PayloadEncryptionConfig } from './keys';
