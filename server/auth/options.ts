/**
 * Builds `authenticate` options from the configuration's auth settings
 * (app/config.ts AuthSettings), discovering the JWKS URL when it is not set.
 * Kept structural so server/ does not import app/.
 */
import type { AuthenticateOptions } from './authenticate';
import { discoverIssuer } from './discovery';

export interface AuthSettingsLike {
  issuer?: string;
  audience: string;
  jwksUri?: string;
  /** The issuer's token endpoint, for SMART discovery; default from its discovery document. */
  tokenEndpoint?: string;
  requireDpop: boolean;
}

export async function resolveAuthenticateOptions(
  settings: AuthSettingsLike,
  extra: { organisations: Record<string, string>; publicBaseUrl?: string; fetch?: typeof fetch },
): Promise<AuthenticateOptions & { tokenEndpoint?: string }> {
  if (!settings.issuer) throw new TypeError('Authentication needs an issuer (OIDC_ISSUER, or the dev IdP in development).');
  // A configured JWKS URL means no discovery at start-up (as before); the token endpoint is then OIDC_TOKEN_ENDPOINT's.
  const discovered = settings.jwksUri ? undefined : await discoverIssuer(settings.issuer, extra.fetch);
  const jwksUri = settings.jwksUri ?? discovered!.jwksUri;
  return {
    tokenEndpoint: settings.tokenEndpoint ?? discovered?.tokenEndpoint,
    issuer: settings.issuer,
    audience: settings.audience,
    jwks: { uri: jwksUri },
    organisations: extra.organisations,
    dpop: { required: settings.requireDpop },
    publicBaseUrl: extra.publicBaseUrl,
  };
}
