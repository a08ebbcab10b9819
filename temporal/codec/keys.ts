/**
 * Encryption keys for the Temporal payload codec, from configuration.
 *
 * Configuration shape: `{ keys: { [keyId]: base64 of 32 random bytes }, currentKeyId }`.
 * New payloads are encrypted with `currentKeyId`; every listed key still
 * decrypts, which is how a key is rotated: add the new key, make it current,
 * and remove the old one only after every history that used it has aged out
 * of retention.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';

export interface PayloadEncryptionConfig {
  /** Key id -> base64-encoded 256-bit AES key. Key ids travel in payload metadata, so they must not carry meaning beyond a name. */
  keys: Record<string, string>;
  /** The key id used for new payloads; must be one of `keys`. */
  currentKeyId: string;
}

export interface KeyRing {
  currentKeyId: string;
  get(keyId: string): KeyObject | undefined;
  keyIds(): string[];
}

/** AES-256 needs exactly 32 bytes of key material (NIST SP 800-38D, FIPS 197). */
const KEY_BYTES = 32;
/** Key ids are written as metadata on every payload; keep them short and printable. */
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Validates the configuration and builds a key ring; throws TypeError naming every problem. */
export function createKeyRing(config: PayloadEncryptionConfig): KeyRing {
  const problems: string[] = [];
  const keys = new Map<string, KeyObject>();
  if (!config || typeof config !== 'object' || !config.keys || typeof config.keys !== 'object') {
    throw new TypeError('Payload encryption: configuration needs { keys: { <keyId>: <base64 32-byte key> }, currentKeyId }.');
  }
  for (const [keyId, encoded] of Object.entries(config.keys)) {
    if (!KEY_ID_PATTERN.test(keyId)) {
      problems.push(`key id "${keyId}" must match ${KEY_ID_PATTERN} (it is stored in every payload's metadata)`);
      continue;
    }
    const raw = typeof encoded === 'string' ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
    if (raw.length !== KEY_BYTES) {
      problems.push(
        `key "${keyId}" decodes to ${raw.length} bytes, AES-256 needs ${KEY_BYTES}; generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`,
      );
      continue;
    }
    keys.set(keyId, createSecretKey(raw));
  }
  if (keys.size === 0 && problems.length === 0) problems.push('no keys configured');
  if (!config.currentKeyId) problems.push('currentKeyId is missing');
  else if (!(config.currentKeyId in config.keys)) {
    problems.push(`currentKeyId "${config.currentKeyId}" is not one of the configured keys (${Object.keys(config.keys).join(', ') || 'none'})`);
  }
  if (problems.length > 0) throw new TypeError(`Payload encryption configuration is invalid: ${problems.join('; ')}.`);
  return {
    currentKeyId: config.currentKeyId,
    get: (keyId) => keys.get(keyId),
    keyIds: () => [...keys.keys()],
  };
}
