/**
 * Client side of the auth tests and benchmarks: DPoP keys, tokens from the
 * dev IdP via openid-client (private_key_jwt, optionally DPoP-bound), and
 * hand-made DPoP proofs whose every field can be set wrong on purpose.
 */
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { DEV_API_RESOURCE, type DevIdp } from '../../app/dev-idp';
import { accessTokenHash } from '../../server/auth/dpop';

export interface DpopKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
  jkt: string;
}

export async function newDpopKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { privateKey, publicKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk) };
}

/** Fetches a token for a demo client with private_key_jwt, DPoP-bound when a key is given. */
export async function getToken(
  idp: DevIdp,
  clientName: string,
  scope: string,
  options: { dpop?: DpopKey; resource?: string } = {},
): Promise<string> {
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

/** A DPoP proof (RFC 9449 4.2); every field can be overridden to make it wrong. */
export async function makeProof(
  key: DpopKey,
  claims: { htm: string; htu: string; accessToken?: string; ath?: string; jti?: string; iat?: number },
  header: { typ?: string; jwk?: JWK } = {},
): Promise<string> {
  return new SignJWT({
    htm: claims.htm,
    htu: claims.htu,
    ath: claims.ath ?? (claims.accessToken ? accessTokenHash(claims.accessToken) : undefined),
    jti: claims.jti ?? randomUUID(),
  })
    .setProtectedHeader({ alg: 'ES256', typ: header.typ ?? 'dpop+jwt', jwk: header.jwk ?? key.publicJwk })
    .setIssuedAt(claims.iat ?? Math.floor(Date.now() / 1000))
    .sign(key.privateKey);
}
