/**
 * Signature check for DPoP proofs with node:crypto's verify, run on libuv's
 * thread pool (the callback form), so the ECDSA/RSA work, about 70 µs per
 * ES256 proof here, does not occupy the thread that serves requests. jose
 * goes through WebCrypto, which also leaves the thread but adds its own
 * overhead per call; a proof must be checked on every request, so this path
 * matters (bench/auth-audit.ts). Access tokens still go through jose (and are
 * cached once verified).
 *
 * Only compact JWS with the algorithms below; the key type must match the
 * algorithm (RFC 7518 3.1-3.5, RFC 8037 3.1), RSA keys need >= 2048 bits
 * (RFC 7518 3.3), Ed25519 is EdDSA on that curve only (RFC 9864), and no
 * `crit` extensions are understood (RFC 7515 4.1.11).
 */
import { constants, createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';

interface AlgorithmSpec {
  kty: 'EC' | 'RSA' | 'OKP';
  hash: string | null;
  crv?: readonly string[];
  /** Signature length for ECDSA (r || s, RFC 7518 3.4). */
  signatureBytes?: number;
  pss?: boolean;
}

const SPECS: Record<string, AlgorithmSpec> = {
  ES256: { kty: 'EC', hash: 'sha256', crv: ['P-256'], signatureBytes: 64 },
  ES384: { kty: 'EC', hash: 'sha384', crv: ['P-384'], signatureBytes: 96 },
  ES512: { kty: 'EC', hash: 'sha512', crv: ['P-521'], signatureBytes: 132 },
  RS256: { kty: 'RSA', hash: 'sha256' },
  RS384: { kty: 'RSA', hash: 'sha384' },
  RS512: { kty: 'RSA', hash: 'sha512' },
  PS256: { kty: 'RSA', hash: 'sha256', pss: true },
  PS384: { kty: 'RSA', hash: 'sha384', pss: true },
  PS512: { kty: 'RSA', hash: 'sha512', pss: true },
  EdDSA: { kty: 'OKP', hash: null, crv: ['Ed25519', 'Ed448'] },
  Ed25519: { kty: 'OKP', hash: null, crv: ['Ed25519'] },
};

export class JwsSignatureError extends Error {
  override readonly name = 'JwsSignatureError';
}

/** Imports a public JWK for `alg`, refusing keys that do not fit the algorithm. */
export function importPublicKey(jwk: JWK, alg: string): KeyObject {
  const spec = SPECS[alg];
  if (!spec) throw new JwsSignatureError(`Algorithm ${alg} is not supported.`);
  if (jwk.kty !== spec.kty) throw new JwsSignatureError(`Algorithm ${alg} needs a ${spec.kty} key, the jwk is ${String(jwk.kty)}.`);
  if (spec.crv && !spec.crv.includes(jwk.crv as string)) throw new JwsSignatureError(`Algorithm ${alg} needs curve ${spec.crv.join(' or ')}, the jwk has ${String(jwk.crv)}.`);
  if ('d' in jwk || 'p' in jwk || 'k' in jwk) throw new JwsSignatureError('The jwk must be a public key.');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch (error) {
    throw new JwsSignatureError(`The jwk is not a valid ${spec.kty} public key: ${(error as Error).message}.`);
  }
  if (spec.kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new JwsSignatureError('RSA keys must be at least 2048 bits.');
  return key;
}

/** Decodes a base64url JWS segment that must hold a JSON object (what: "protected header" or "payload"). */
function decodeJsonSegment(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new JwsSignatureError(`The ${what} is not JSON.`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new JwsSignatureError(`The ${what} is not a JSON object.`);
  return value as Record<string, unknown>;
}

/** Parses a compact JWS's protected header segment; it must be a JSON object. */
export function parseProtectedHeader(segment: string): Record<string, unknown> {
  return decodeJsonSegment(segment, 'protected header');
}

/** Refuses a header this module does not understand: another alg than expected, or extensions. */
export function checkProtectedHeader(header: Record<string, unknown>, alg: string): void {
  if (header.alg !== alg) throw new JwsSignatureError('The header alg changed between checks.');
  if (header.crit !== undefined || header.b64 !== undefined) throw new JwsSignatureError('JWS extensions (crit, b64) are not accepted.');
}

/**
 * Verifies the signature of a compact JWS whose header was already checked
 * (see {@link checkProtectedHeader}); resolves to the decoded payload object.
 */
export async function verifyJwsPayload(parts: readonly [string, string, string], key: KeyObject, alg: string): Promise<Record<string, unknown>> {
  const spec = SPECS[alg];
  if (!spec) throw new JwsSignatureError(`Algorithm ${alg} is not supported.`);
  const [protectedHeader, payload, signature] = parts;
  const signatureBytes = Buffer.from(signature, 'base64url');
  if (spec.signatureBytes && signatureBytes.length !== spec.signatureBytes) throw new JwsSignatureError('The signature has the wrong length for its algorithm.');
  const data = Buffer.from(`${protectedHeader}.${payload}`, 'ascii');
  const options =
    spec.kty === 'EC'
      ? { key, dsaEncoding: 'ieee-p1363' as const }
      : spec.pss
        ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
        : key;
  const valid = await new Promise<boolean>((resolve, reject) => {
    verify(spec.hash, data, options, signatureBytes, (error, result) => (error ? reject(new JwsSignatureError(`The signature could not be checked: ${error.message}`)) : resolve(result)));
  });
  if (!valid) throw new JwsSignatureError('The signature does not verify.');
  return decodeJsonSegment(payload, 'payload');
}

/** Splits a compact JWS into its three segments. */
function splitCompactJws(jws: string): [string, string, string] {
  const parts = jws.split('.');
  if (parts.length !== 3) throw new JwsSignatureError('Not a compact JWS.');
  return parts as [string, string, string];
}

/** Verifies a compact JWS signature; resolves to the decoded payload object. */
export async function verifyCompactJws(jws: string, key: KeyObject, alg: string): Promise<Record<string, unknown>> {
  if (!SPECS[alg]) throw new JwsSignatureError(`Algorithm ${alg} is not supported.`);
  const parts = splitCompactJws(jws);
  checkProtectedHeader(parseProtectedHeader(parts[0]), alg);
  return verifyJwsPayload(parts, key, alg);
}
