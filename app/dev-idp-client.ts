/**
 * A client of the development OIDC provider (app/dev-idp.ts): tokens for its
 * demo clients with private_key_jwt client credentials (openid-client),
 * DPoP-bound when a key is given. Used by `forlop demo`, the tests and the
 * benchmarks.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import * as oidc from 'openid-client';
import type { DpopAlgorithm } from '../server/auth/dpop';
import { DEV_API_RESOURCE, type DevIdp } from './dev-idp';

export interface DpopKey {
  /** The JWS algorithm its proofs are signed with. */
  alg: DpopAlgorithm;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
  jkt: string;
}

/**
 * A client's DPoP key pair. ES256 by default; an RSA algorithm (PS256, as
 * FAPI 2.0 allows, or RS256-RS512) gives a 2048-bit RSA key, the kind of key a
 * HelseID client has (HelseID's own example proof is RS512).
 */
export async function newDpopKey(alg: DpopAlgorithm = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { alg, privateKey, publicKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk) };
}

/** Whether a request failed because the server had closed or reset its connection (a keep-alive socket it dropped as it was reused). */
function connectionReset(error: unknown): boolean {
  for (let e = error as { code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === 'ECONNRESET' || e.code === 'EPIPE' || e.code === 'UND_ERR_SOCKET') return true;
  }
  return false;
}

/**
 * Runs `request` once more if its connection was reset: a keep-alive socket the server closed
 * just as the client reused it (after minutes of load in the benchmarks). Only for requests that
 * are safe to repeat; a token request is (each attempt signs a new client assertion).
 */
export async function onceMoreIfReset<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    if (!connectionReset(error)) throw error;
    return request();
  }
}

/** Fetches a token for a demo client with private_key_jwt, DPoP-bound when a key is given. */
export async function getToken(idp: DevIdp, clientName: string, scope: string, options: { dpop?: DpopKey; resource?: string } = {}): Promise<string> {
  return onceMoreIfReset(() => requestToken(idp, clientName, scope, options));
}

async function requestToken(idp: DevIdp, clientName: string, scope: string, options: { dpop?: DpopKey; resource?: string }): Promise<string> {
  const client = idp.clients[clientName];
  const config = await oidc.discovery(
    new URL(idp.issuer),
    client.clientId,
    { token_endpoint_auth_method: 'private_key_jwt' },
    oidc.PrivateKeyJwt({ key: client.privateKey, kid: client.privateJwk.kid }),
    { execute: [oidc.allowInsecureRequests] },
  );
  const DPoP = options.dpop ? oidc.getDPoPHandle(config, { privateKey: options.dpop.privateKey, publicKey: options.dpop.publicKey }) : undefined;
  try {
    const tokens = await oidc.clientCredentialsGrant(config, { scope, resource: options.resource ?? DEV_API_RESOURCE }, { DPoP });
    return tokens.access_token;
  } catch (error) {
    const { error: code, error_description: description } = error as { error?: string; error_description?: string };
    throw new Error(`Token request for ${clientName} failed: ${code ?? ''} ${description ?? (error as Error).message}`, { cause: error });
  }
}
