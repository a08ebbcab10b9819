/**
 * Client side of the auth tests and benchmarks: DPoP keys, tokens from the
 * dev IdP via openid-client (private_key_jwt, optionally DPoP-bound), and
 * hand-made DPoP proofs whose every field can be set wrong on purpose.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';
import { accessTokenHash } from '../../server/auth/dpop';
import type { DpopKey } from '../../app/dev-idp-client';

export { getToken, newDpopKey, type DpopKey } from '../../app/dev-idp-client';

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
    .setProtectedHeader({ alg: key.alg, typ: header.typ ?? 'dpop+jwt', jwk: header.jwk ?? key.publicJwk })
    .setIssuedAt(claims.iat ?? Math.floor(Date.now() / 1000))
    .sign(key.privateKey);
}
