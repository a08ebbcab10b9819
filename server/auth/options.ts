/**
 * Builds `authenticate` options from the configuration's auth settings
 * (app/config.ts AuthSettings), discovering the JWKS URL when it is not set.
 * Kept structural so server/ does not import app/.
 */
import type { AuthenticateOptions } from './authenticate';
import { discoverJwksUri } from './discovery';

export interface AuthSettingsLike {
  issuer?: string;
  audience: string;
  jwksUri?: string;
  requireDpop: boolean;
}

export async function resolveAuthenticateOptions(
  settings: AuthSettingsLike,
  extra: { organisations: Record<string, string>; publicBaseUrl?: string; fetch?: typeof fetch },
): Promise<AuthenticateOptions> {
  if (!settings.issuer) throw new TypeError('Authentication needs an issuer (OIDC_ISSUER, or the dev IdP in development).');
  const jwksUri = settings.jwksUri ?? (await discoverJwksUri(settings.issuer, extra.fetch));
  return {
    issuer: settings.issuer,
    audience: settings.audience,
    jwks: { uri: jwksUri },
    organisations: extra.organisations,
    dpop: { required: settings.requireDpop },
    publicBaseUrl: extra.publicBaseUrl,
  };
}
