/**
 * Development only: the dev IdP's signing key, created once and kept in the
 * data directory (mode 0600) like the development payload key. With the IdP's
 * port fixed (config.ts), a restarted `forlop start` is the same issuer with
 * the same key: a token fetched before the restart keeps working until it
 * expires, and then fails with "The access token has expired", not with an
 * unknown key.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { JWK } from 'jose';
import { newDevIdpSigningKey } from './dev-idp';

export async function developmentSigningKey(dataDir: string): Promise<JWK> {
  const file = path.join(dataDir, 'dev-idp-signing-key.json');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    try {
      writeFileSync(file, JSON.stringify(await newDevIdpSigningKey()), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      // Another process made it first: use theirs.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return JSON.parse(readFileSync(file, 'utf8')) as JWK;
}
