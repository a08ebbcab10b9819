/**
 * Development only: when no FORLOP_PAYLOAD_KEYS are configured, workflow
 * payloads are still encrypted, with a random key created once and kept in
 * the data directory (mode 0600) so that a restart can read what was
 * written. Production refuses to start without configured keys (config.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PayloadEncryptionConfig } from '../temporal/codec';

export function developmentPayloadKeys(dataDir: string): PayloadEncryptionConfig {
  const file = path.join(dataDir, 'dev-payload-key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    // Exclusive create: `forlop serve` and `forlop worker` starting together on one directory agree on one key.
    try {
      writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return { keys: { dev: readFileSync(file, 'utf8').trim() }, currentKeyId: 'dev' };
}
