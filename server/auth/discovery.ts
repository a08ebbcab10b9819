/**
 * Finds an issuer's JWKS URL from its OpenID Connect discovery document
 * (OpenID Connect Discovery 1.0, section 4), once at start-up. HelseID:
 * https://helseid-sts.nhn.no/.well-known/openid-configuration
 */
export async function discoverJwksUri(issuer: string, fetchImpl: typeof fetch = fetch): Promise<string> {
  return (await discoverIssuer(issuer, fetchImpl)).jwksUri;
}

/** The issuer's JWKS URL and token endpoint (the endpoint clients get tokens from, for SMART discovery). */
export async function discoverIssuer(issuer: string, fetchImpl: typeof fetch = fetch): Promise<{ jwksUri: string; tokenEndpoint?: string }> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let response: Response;
  try {
    response = await fetchImpl(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    throw new Error(`Could not reach the OIDC issuer's discovery document at ${url}: ${(error as Error).message}. Check OIDC_ISSUER and the network, or set OIDC_JWKS_URI.`, { cause: error });
  }
  if (!response.ok) throw new Error(`The OIDC discovery document at ${url} answered HTTP ${response.status}; check OIDC_ISSUER or set OIDC_JWKS_URI.`);
  const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown; token_endpoint?: unknown };
  // Discovery 4.3: the issuer in the document must be exactly the one we asked for.
  if (document.issuer !== issuer) {
    throw new Error(`The discovery document at ${url} names issuer "${String(document.issuer)}", not "${issuer}"; set OIDC_ISSUER to the exact issuer value.`);
  }
  if (typeof document.jwks_uri !== 'string') throw new Error(`The discovery document at ${url} has no jwks_uri; set OIDC_JWKS_URI.`);
  return { jwksUri: document.jwks_uri, tokenEndpoint: typeof document.token_endpoint === 'string' ? document.token_endpoint : undefined };
}
