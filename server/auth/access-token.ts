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
  /**
   * Remember tokens whose signature and claims verified, so a client reusing
   * its token is not re-verified on every request (one ES256 verification is
   * about a third of a small request's cost). Expiry is still checked on
   * every use; entries live at most `maxAgeSeconds` (default 60), so a key
   * removed from the JWKS stops being honoured within that time. `false`
   * turns it off.
   */
  verifiedTokenCache?: { maxEntries?: number; maxAgeSeconds?: number } | false;
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
  const now = options.now ?? Date.now;
  const tolerance = verifyOptions.clockTolerance;
  const cacheOptions = options.verifiedTokenCache === false ? undefined : (options.verifiedTokenCache ?? {});
  const cache = new Map<string, { result: VerifiedAccessToken; exp: number; nbf: number; until: number }>();

  const fromCache = (token: string): VerifiedAccessToken | undefined => {
    const hit = cache.get(token);
    if (!hit) return undefined;
    const nowMs = now();
    if (hit.until <= nowMs) {
      cache.delete(token);
      return undefined;
    }
    const seconds = Math.floor(nowMs / 1000);
    // Same checks jose applies (RFC 7519 4.1.4, 4.1.5), with the same tolerance.
    if (hit.exp <= seconds - tolerance) throw new InvalidTokenError(describe(new errors.JWTExpired('"exp" claim timestamp check failed', hit.result.claims)));
    if (hit.nbf > seconds + tolerance) return undefined;
    return hit.result;
  };

  const remember = (token: string, result: VerifiedAccessToken) => {
    if (!cacheOptions) return;
    const maxEntries = cacheOptions.maxEntries ?? 10_000;
    while (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    const until = now() + (cacheOptions.maxAgeSeconds ?? 60) * 1000;
    cache.set(token, { result, exp: result.claims.exp ?? 0, nbf: result.claims.nbf ?? 0, until });
  };

  return {
    async verify(token) {
      const cached = cacheOptions ? fromCache(token) : undefined;
      if (cached) return cached;
      try {
        const currentDate = options.now ? new Date(options.now()) : undefined;
        const { payload } = await jwtVerify(token, getKey, { ...verifyOptions, currentDate });
        const cnf = payload.cnf as { jkt?: unknown } | undefined;
        const result = { claims: payload as VerifiedAccessToken['claims'], jkt: typeof cnf?.jkt === 'string' ? cnf.jkt : undefined };
        remember(token, result);
        return result;
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
