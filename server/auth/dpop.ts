/**
 * DPoP proof verification (RFC 9449 "OAuth 2.0 Demonstrating Proof of
 * Possession", section 4.3 "Checking DPoP Proofs" and 7.1). HelseID requires
 * DPoP-bound tokens for APIs:
 * https://utviklerportal.nhn.no/informasjonstjenester/helseid/bruksmoenstre-og-eksempelkode/bruk-av-helseid/docs/dpop/
 */
import { createHash, type KeyObject } from 'node:crypto';
import { base64url, calculateJwkThumbprint, type JWK } from 'jose';
import { checkProtectedHeader, importPublicKey, JwsSignatureError, parseProtectedHeader, verifyJwsPayload } from './jws-signature';
import type { ReplayCache } from './replay-cache';

/**
 * Asymmetric algorithms a proof may use (RFC 9449 4.2: MUST NOT be none or
 * symmetric). Ed25519 is the fully specified name for EdDSA with that curve
 * (RFC 9864), which openid-client signs Ed25519 keys' proofs with.
 */
export const DPOP_ALGORITHMS = ['ES256', 'PS256', 'RS256', 'ES384', 'PS384', 'RS384', 'ES512', 'PS512', 'RS512', 'EdDSA', 'Ed25519'] as const;
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

export interface DpopOptions {
  /** How old a proof's iat may be, in seconds (default 60). RFC 9449 11.1 suggests seconds to minutes. */
  maxAgeSeconds?: number;
  /** Allowed clock skew for an iat in the future, in seconds (default 5). */
  clockToleranceSeconds?: number;
  algorithms?: readonly string[];
  replayCache: ReplayCache;
  /** Parsed proof headers and their imported keys, so a client's key is parsed and imported once, not per request. */
  headerCache?: ProofHeaderCache;
  now?: () => number;
}

interface ProofHeader {
  fields: Record<string, unknown>;
  /** The header's key imported for its alg, with its thumbprint; set on first use. */
  imported?: Promise<{ key: KeyObject; jkt: string }>;
}

/**
 * A client signs every proof with the same key, so its proofs share one
 * protected header segment (typ, alg, jwk): parse it, import the key and
 * compute its thumbprint once (importing costs about as much as verifying).
 * Bounded; only headers that parse are kept.
 */
export interface ProofHeaderCache {
  get(segment: string): ProofHeader;
}

export function createProofHeaderCache(maxEntries = 10_000): ProofHeaderCache {
  const entries = new Map<string, ProofHeader>();
  return {
    get(segment) {
      let entry = entries.get(segment);
      if (!entry) {
        entry = { fields: parseProtectedHeader(segment) }; // throws for a header that is not a JSON object: nothing cached
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
        entries.set(segment, entry);
      }
      return entry;
    },
  };
}

function importProofKey(entry: ProofHeader, jwk: JWK, alg: string): Promise<{ key: KeyObject; jkt: string }> {
  if (!entry.imported) {
    const key = importPublicKey(jwk, alg); // throws synchronously for a key unfit for alg: nothing kept
    entry.imported = calculateJwkThumbprint(jwk, 'sha256').then((jkt) => ({ key, jkt }));
    entry.imported.catch(() => (entry.imported = undefined));
  }
  return entry.imported;
}

export interface DpopRequest {
  /** The DPoP header value(s); more than one is an error (RFC 9449 4.3 step 1). */
  proof: string | string[] | undefined;
  method: string;
  /** The full request URL as the client addressed it. */
  url: string;
  accessToken: string;
  /** cnf.jkt of the access token. */
  boundJkt: string | undefined;
  /** accessTokenHash(accessToken), when the caller has it already. */
  accessTokenHash?: string;
}

export class InvalidDpopProofError extends Error {
  override readonly name = 'InvalidDpopProofError';
}

/**
 * Normalises an HTTP URI for htu comparison: scheme and host lower-cased,
 * default port removed (RFC 3986 6.2.2, 6.2.3), query and fragment dropped
 * (RFC 9449 4.3 step 9).
 */
export function normaliseHtu(value: string): string {
  const url = new URL(value); // WHATWG URL lower-cases scheme/host and drops default ports
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** ath: base64url of the SHA-256 of the ASCII access token (RFC 9449 4.2). */
export function accessTokenHash(accessToken: string): string {
  return base64url.encode(createHash('sha256').update(accessToken, 'ascii').digest());
}

export async function verifyDpopProof(request: DpopRequest, options: DpopOptions): Promise<{ jkt: string }> {
  const fail = (message: string): never => {
    throw new InvalidDpopProofError(message);
  };
  if (request.proof === undefined) fail('A DPoP-bound access token needs a DPoP proof header (RFC 9449 7.1).');
  if (Array.isArray(request.proof) || request.proof!.includes(',')) fail('Send exactly one DPoP header.');
  const proof = request.proof as string;

  const parts = proof.split('.');
  let entry: ProofHeader;
  try {
    if (parts.length !== 3) throw new JwsSignatureError('Not a compact JWS.');
    entry = (options.headerCache ?? createProofHeaderCache(1)).get(parts[0]);
  } catch {
    return fail('The DPoP proof is not a well-formed JWT.');
  }
  const header = entry.fields;
  if (header.typ !== 'dpop+jwt') fail('The DPoP proof must have typ "dpop+jwt".');
  const alg = header.alg;
  const algorithms = options.algorithms ?? DPOP_ALGORITHMS;
  if (typeof alg !== 'string' || !algorithms.includes(alg)) fail(`The DPoP proof algorithm must be one of ${algorithms.join(', ')}.`);
  const jwk = header.jwk as JWK | undefined;
  if (!jwk || typeof jwk !== 'object') fail('The DPoP proof header must carry the public key as "jwk".');
  if ('d' in jwk! || jwk!.kty === 'oct') fail('The DPoP proof "jwk" must be a public key; never send a private key.');

  const now = Math.floor((options.now ?? Date.now)() / 1000);
  let claims: Record<string, unknown>;
  let jkt: string;
  try {
    checkProtectedHeader(header, alg as string);
    const imported = await importProofKey(entry, jwk!, alg as string);
    jkt = imported.jkt;
    claims = await verifyJwsPayload(parts as [string, string, string], imported.key, alg as string);
  } catch (error) {
    if (error instanceof JwsSignatureError && error.message === 'The signature does not verify.') {
      return fail('The DPoP proof signature does not verify with its jwk.');
    }
    return fail(`The DPoP proof is invalid: ${(error as Error).message}`);
  }

  const { jti, htm, htu, iat, ath } = claims;
  if (typeof jti !== 'string' || jti.length < 8) fail('The DPoP proof needs a unique "jti" (at least 8 characters).');
  if (htm !== request.method.toUpperCase()) fail(`The DPoP proof "htm" must be the request method ${request.method.toUpperCase()}.`);
  let htuMatches: boolean;
  try {
    htuMatches = typeof htu === 'string' && normaliseHtu(htu) === normaliseHtu(request.url);
  } catch {
    htuMatches = false;
  }
  if (!htuMatches) fail(`The DPoP proof "htu" must be the request URL without query and fragment: ${normaliseHtu(request.url)}.`);
  const maxAge = options.maxAgeSeconds ?? 60;
  const tolerance = options.clockToleranceSeconds ?? 5;
  if (typeof iat !== 'number') fail('The DPoP proof needs an "iat".');
  if ((iat as number) > now + tolerance) fail('The DPoP proof "iat" is in the future; check the client clock.');
  if ((iat as number) < now - maxAge - tolerance) fail(`The DPoP proof is older than ${maxAge} seconds; make a new proof for each request.`);
  if (ath !== (request.accessTokenHash ?? accessTokenHash(request.accessToken))) fail('The DPoP proof "ath" does not match the access token.');

  if (request.boundJkt !== jkt) fail('The DPoP proof key does not match the key the access token is bound to (cnf.jkt).');

  // Checked last so a proof that fails other checks does not burn its jti.
  const ttlSafeNow = now * 1000;
  if (!options.replayCache.checkAndRemember(`${jkt}:${jti as string}`, ttlSafeNow)) {
    fail('The DPoP proof has been used before; make a new proof (new jti) for each request.');
  }
  return { jkt };
}
