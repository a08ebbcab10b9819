/**
 * Access token verification: a JWT signed by the configured issuer, checked
 * against the issuer's JWKS (RFC 9068 "JWT Profile for OAuth 2.0 Access
 * Tokens", section 4). HelseID issues such tokens:
 * https://utviklerportal.nhn.no/informasjonstjenester/helseid/
 */
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';

/**
 * Asymmetric algorithms only. HS* would let anyone holding the shared secret
 * mint tokens, and with a JWKS it enables key-confusion attacks; 'none' is
 * never acceptable (RFC 8725 3.1, 3.2).
 */
export const DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'RS384', 'PS384', 'ES384', 'RS512', 'PS512', 'ES512', 'EdDSA'] as const;

export interface AccessTokenOptions {
  /** Expected `iss`, exactly as the issuer publishes it. */
  issuer: string;
  /** Expected `aud` (the API's resource identifier). */
  audience: string | string[];
  /** Where to fetch the issuer's keys (its `jwks_uri`), or a JWKS held locally (tests, air-gapped setups). */
  jwks: { uri: string } | { keys: JSONWebKeySet };
  /** Accepted signing algorithms; default: {@link DEFAULT_ALGORITHMS}. Symmetric and 'none' are refused. */
  algorithms?: readonly string[];
  /** Allowed clock skew for exp/nbf/iat, in seconds; default 5. */
  clockToleranceSeconds?: number;
  /** Expected JWT `typ` header; HelseID and RFC 9068 use 'at+jwt'. Default: not checked, as some issuers omit it. */
  typ?: string;
  /** Clock in milliseconds, for tests; default Date.now. */
  now?: () => number;
}

export interface VerifiedAccessToken {
  claims: JWTPayload & Record<string, unknown>;
  /** The thumbprint the token is bound to (cnf.jkt, RFC 9449 6.1), if DPoP-bound. */
  jkt?: string;
}

/** Why a token was refused, in words safe to send back to the client. */
export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

export interface AccessTokenVerifier {
  verify(token: string): Promise<VerifiedAccessToken>;
}

export function createAccessTokenVerifier(options: AccessTokenOptions): AccessTokenVerifier {
  const algorithms = [...(options.algorithms ?? DEFAULT_ALGORITHMS)];
  const unsafe = algorithms.filter((a) => a === 'none' || /^HS/i.test(a));
  if (unsafe.length > 0) {
    throw new TypeError(`Access token algorithms ${unsafe.join(', ')} are not allowed: use asymmetric algorithms verified against the issuer's JWKS.`);
  }
  const getKey: JWTVerifyGetKey =
    'uri' in options.jwks ? createRemoteJWKSet(new URL(options.jwks.uri)) : createLocalJWKSet(options.jwks.keys);
  const verifyOptions = {
    issuer: options.issuer,
    audience: options.audience,
    algorithms,
    clockTolerance: options.clockToleranceSeconds ?? 5,
    typ: options.typ,
    requiredClaims: ['exp'],
  };
  return {
    async verify(token) {
      try {
        const currentDate = options.now ? new Date(options.now()) : undefined;
        const { payload } = await jwtVerify(token, getKey, { ...verifyOptions, currentDate });
        const cnf = payload.cnf as { jkt?: unknown } | undefined;
        return { claims: payload as VerifiedAccessToken['claims'], jkt: typeof cnf?.jkt === 'string' ? cnf.jkt : undefined };
      } catch (error) {
        // Not the token's fault (issuer unreachable, JWKS fetch timed out): let the
        // server answer 5xx rather than tell a client with a good token it is invalid.
        if (!(error instanceof errors.JOSEError) || error instanceof errors.JWKSTimeout) throw error;
        throw new InvalidTokenError(describe(error));
      }
    },
  };
}

/** Turns jose's errors into messages for the client; never echoes the token. */
function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The access token has expired; get a new one from the issuer.';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return 'The access token was issued by an issuer this server does not trust.';
    if (error.claim === 'aud') return 'The access token is not meant for this API (wrong audience); request it for this resource.';
    if (error.claim === 'nbf') return 'The access token is not valid yet (nbf is in the future).';
    return `The access token's "${error.claim}" claim is invalid: ${error.reason}.`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'The access token is signed with an algorithm this server does not accept.';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The access token signature is not valid.';
  if (error instanceof errors.JWKSNoMatchingKey) return "No key in the issuer's JWKS matches the access token's key id.";
  if (error instanceof errors.JOSENotSupported) return `The access token uses an unsupported feature: ${error.message}.`;
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'The access token is not a well-formed signed JWT.';
  return 'The access token could not be verified.';
}
