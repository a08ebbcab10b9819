/**
 * Express middleware: authenticates every request with an OAuth 2.0 access
 * token (RFC 6750 Bearer or RFC 9449 DPoP) and sets `req.forlop`.
 * Mount it before every API route; mount `requireScope` (or call `allows`)
 * where the resource type and interaction are known.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createAccessTokenVerifier, InvalidTokenError, type AccessTokenOptions } from './access-token';
import { buildAuthContext, ClaimsError, type ClaimNames, type ForlopAuthContext } from './context';
import { accessTokenHash, createProofHeaderCache, DPOP_ALGORITHMS, InvalidDpopProofError, verifyDpopProof } from './dpop';
import { AuthError, type Challenge } from './errors';
import { createReplayCache, type ReplayCache } from './replay-cache';
import { allows, requiredScope, type Interaction } from './scopes';

export interface AuthenticateOptions extends AccessTokenOptions {
  /** Organisation number -> Organization reference ("Organization/<id>"). Unmapped organisations are refused. */
  organisations: Record<string, string>;
  /** Claim names, when the issuer differs from HelseID's. */
  claimNames?: Partial<ClaimNames>;
  dpop?: {
    /** Refuse plain Bearer tokens (HelseID's recommendation for APIs). Default false. */
    required?: boolean;
    maxAgeSeconds?: number;
    replayCache?: ReplayCache;
  };
  /**
   * The API's public base URL (e.g. "https://forlop.example.no"), used for the
   * DPoP htu check. Without it the URL is rebuilt from the request (protocol
   * and Host header; set Express "trust proxy" behind a proxy).
   */
  publicBaseUrl?: string;
}

function requestUrl(req: Request, publicBaseUrl: string | undefined): string {
  if (publicBaseUrl) return `${publicBaseUrl.replace(/\/+$/, '')}${req.originalUrl}`;
  return `${req.protocol}://${req.get('host')}${req.originalUrl}`;
}

/** Sends an AuthError as FHIR expects: status, WWW-Authenticate, OperationOutcome body. */
export function sendAuthError(res: Response, error: AuthError): void {
  if (error.challenges.length > 0) res.set('WWW-Authenticate', error.wwwAuthenticate);
  res.status(error.status).type('application/fhir+json').send(JSON.stringify(error.operationOutcome));
}

export function authenticate(options: AuthenticateOptions): RequestHandler {
  const verifier = createAccessTokenVerifier(options);
  const dpopRequired = options.dpop?.required ?? false;
  const maxAgeSeconds = options.dpop?.maxAgeSeconds ?? 60;
  const replayCache = options.dpop?.replayCache ?? createReplayCache({ ttlMs: (maxAgeSeconds + 10) * 1000 });
  const headerCache = createProofHeaderCache();
  // The verifier hands out the same object for a token it has seen, so its ath is hashed once
  // and its claims are made into a context once (per scheme: the context names it).
  const tokenHashes = new WeakMap<object, string>();
  const contexts = { Bearer: new WeakMap<object, ForlopAuthContext>(), DPoP: new WeakMap<object, ForlopAuthContext>() };
  const algs = DPOP_ALGORITHMS;

  /** The challenges to offer: DPoP always (RFC 9449 7.1), Bearer unless DPoP is required. */
  const challenges = (scheme: 'Bearer' | 'DPoP' | undefined, error?: Challenge['error'], description?: string): Challenge[] => {
    const list: Challenge[] = [];
    if (!dpopRequired) list.push({ scheme: 'Bearer', ...(scheme !== 'DPoP' ? { error, description } : {}) });
    list.push({ scheme: 'DPoP', algs, ...(scheme === 'DPoP' || dpopRequired ? { error, description } : {}) });
    return list;
  };
  const unauthorised = (scheme: 'Bearer' | 'DPoP' | undefined, error: Challenge['error'], message: string) =>
    new AuthError(401, message, challenges(scheme, error, message));

  async function run(req: Request): Promise<void> {
    const header = req.get('authorization');
    if (!header) {
      // RFC 6750 3.1: no error code when the request carried no credentials.
      throw new AuthError(401, 'This API needs an access token: send "Authorization: DPoP <token>" with a DPoP proof, or "Bearer <token>".', challenges(undefined));
    }
    const match = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
    if (!match) throw unauthorised(undefined, 'invalid_request', 'The Authorization header must be "Bearer <token>" or "DPoP <token>".');
    const scheme = match[1].toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
    const token = match[2];
    if (scheme === 'Bearer' && dpopRequired) {
      throw unauthorised('DPoP', 'invalid_token', 'This API accepts only DPoP-bound access tokens; use "Authorization: DPoP <token>" with a DPoP proof.');
    }

    let verified;
    try {
      verified = await verifier.verify(token);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw unauthorised(scheme, 'invalid_token', error.message);
      throw error;
    }

    if (scheme === 'Bearer' && verified.jkt) {
      // RFC 9449 7.2: a DPoP-bound token sent as Bearer must be refused, or stealing it would be enough.
      throw unauthorised('DPoP', 'invalid_token', 'This access token is DPoP-bound; send it with "Authorization: DPoP" and a DPoP proof.');
    }
    if (scheme === 'DPoP') {
      if (!verified.jkt) throw unauthorised('DPoP', 'invalid_token', 'The access token is not DPoP-bound (no cnf.jkt); send it as Bearer or get a DPoP-bound token.');
      let ath = tokenHashes.get(verified);
      if (ath === undefined) tokenHashes.set(verified, (ath = accessTokenHash(token)));
      try {
        await verifyDpopProof(
          { proof: req.headers.dpop, method: req.method, url: requestUrl(req, options.publicBaseUrl), accessToken: token, accessTokenHash: ath, boundJkt: verified.jkt },
          { replayCache, headerCache, maxAgeSeconds, clockToleranceSeconds: options.clockToleranceSeconds, now: options.now },
        );
      } catch (error) {
        if (error instanceof InvalidDpopProofError) throw unauthorised('DPoP', 'invalid_dpop_proof', error.message);
        throw error;
      }
    }

    const known = contexts[scheme].get(verified);
    if (known) {
      req.forlop = known;
      return;
    }
    try {
      req.forlop = Object.freeze(buildAuthContext(verified.claims, { organisations: options.organisations, claimNames: options.claimNames, tokenType: scheme }));
      contexts[scheme].set(verified, req.forlop);
    } catch (error) {
      if (error instanceof ClaimsError) throw new AuthError(403, error.message, []);
      throw error;
    }
  }

  return (req: Request, res: Response, next: NextFunction) => {
    run(req).then(
      () => next(),
      (error: unknown) => (error instanceof AuthError ? sendAuthError(res, error) : next(error)),
    );
  };
}

/** Checks the scope for an interaction; 403 insufficient_scope (RFC 6750 3.1) naming the scope to ask for. */
export function checkScope(req: Request, resourceType: string, interaction: Interaction): AuthError | undefined {
  const auth = req.forlop;
  if (!auth) return new AuthError(401, 'The request is not authenticated.', [{ scheme: 'Bearer' }]);
  if (allows(auth.scopes, resourceType, interaction)) return undefined;
  const scope = requiredScope(resourceType, interaction);
  const message = `The client's scopes do not allow ${interaction} on ${resourceType}; it needs ${scope} (or broader).`;
  return new AuthError(403, message, [{ scheme: auth.tokenType, error: 'insufficient_scope', description: message, scope }]);
}

/** Middleware form of checkScope for routes with a fixed resource type and interaction. */
export function requireScope(resourceType: string, interaction: Interaction): RequestHandler {
  return (req, res, next) => {
    const error = checkScope(req, resourceType, interaction);
    if (error) sendAuthError(res, error);
    else next();
  };
}
