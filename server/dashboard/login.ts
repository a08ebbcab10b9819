/**
 * The dashboard's login with the organisation's OpenID provider:
 * authorization code flow with PKCE (RFC 7636) and state, by openid-client
 * on the server; the access token (for the Forløp API, RFC 8707 resource
 * indicator) and refresh token stay in the server-side session.
 * https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth
 */
import * as oidc from 'openid-client';

/**
 * The SMART scopes the dashboard asks for on the user's behalf: reading what
 * the user's organisation may see, and the writes its actions make. The IdP
 * grants these or fewer; the API checks each call against what was granted.
 */
export const DASHBOARD_API_SCOPES = ['user/*.rs', 'user/Encounter.cru', 'user/Observation.c', 'user/Communication.ru', 'user/EpisodeOfCare.ru', 'user/ServiceRequest.c', 'user/Task.ru'];

export interface LoginSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where the provider sends the browser back: <publicUrl>/auth/callback. */
  redirectUri: string;
  /** Where the provider sends the browser after logout: <publicUrl>/auth/logged-out. */
  postLogoutRedirectUri: string;
  /** Resource indicator of the Forløp API (the token's audience comes from it). */
  resource: string;
}

export interface PendingLogin {
  state: string;
  verifier: string;
  nonce: string;
  returnTo: string;
}

export interface LoginTokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  expiresAt: number;
  subject: string;
  name: string;
}

/** The provider's own words for a refused request (its error and error_description), not only openid-client's summary. */
function providerError(error: unknown): never {
  const { error: code, error_description: description } = error as { error?: string; error_description?: string };
  if (code) throw new Error(`the identity provider refused: ${code}${description ? ` (${description})` : ''}`, { cause: error });
  throw error;
}

export class OidcLogin {
  private config?: Promise<oidc.Configuration>;

  constructor(readonly settings: LoginSettings) {}

  /** Discovery runs at the first login (the provider may start after the server), and again after a failure. */
  private configuration(): Promise<oidc.Configuration> {
    if (!this.config) {
      const { issuer, clientId, clientSecret } = this.settings;
      const insecure = new URL(issuer).protocol === 'http:';
      this.config = oidc.discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretBasic(clientSecret), insecure ? { execute: [oidc.allowInsecureRequests] } : undefined);
      this.config.catch(() => (this.config = undefined));
    }
    return this.config;
  }

  async start(returnTo: string): Promise<{ url: string; pending: PendingLogin }> {
    const config = await this.configuration();
    const verifier = oidc.randomPKCECodeVerifier();
    const pending: PendingLogin = { state: oidc.randomState(), verifier, nonce: oidc.randomNonce(), returnTo };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUri,
      scope: ['openid', 'profile', ...DASHBOARD_API_SCOPES].join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
      resource: this.settings.resource,
    });
    return { url: url.href, pending };
  }

  async finish(callbackUrl: URL, pending: PendingLogin): Promise<LoginTokens> {
    const config = await this.configuration();
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce }, { resource: this.settings.resource }).catch(providerError);
    const claims = tokens.claims();
    if (!claims) throw new Error('the provider sent no ID token');
    return {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      idToken: tokens.id_token,
      expiresAt: Date.now() + (tokens.expiresIn() ?? 300) * 1000,
      subject: claims.sub,
      name: typeof claims.name === 'string' ? claims.name : claims.sub,
    };
  }

  async refresh(refreshToken: string): Promise<Omit<LoginTokens, 'subject' | 'name'>> {
    const config = await this.configuration();
    const tokens = await oidc.refreshTokenGrant(config, refreshToken, { resource: this.settings.resource }).catch(providerError);
    return {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token ?? refreshToken,
      idToken: tokens.id_token,
      expiresAt: Date.now() + (tokens.expiresIn() ?? 300) * 1000,
    };
  }

  /** The provider's logout URL (RP-initiated logout), or undefined if it has none. */
  async logoutUrl(idToken: string | undefined): Promise<string | undefined> {
    const config = await this.configuration();
    if (!config.serverMetadata().end_session_endpoint) return undefined;
    return oidc.buildEndSessionUrl(config, { post_logout_redirect_uri: this.settings.postLogoutRedirectUri, ...(idToken ? { id_token_hint: idToken } : {}) }).href;
  }
}
