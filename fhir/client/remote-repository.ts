/**
 * The store interface over an external FHIR server, so Forløp can read and
 * write an existing FHIR server instead of its own store. It authenticates
 * the HelseID way (DOMAIN.md; utviklerportal.nhn.no): OAuth 2.0 client
 * credentials with private_key_jwt client authentication (RFC 7523) and
 * DPoP-bound access tokens (RFC 9449), through openid-client; every request
 * carries a fresh DPoP proof (openid-client's fetchProtectedResource, which
 * also follows DPoP nonces). Errors come back as OperationOutcomeError with
 * the server's OperationOutcome and HTTP status.
 */
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { CryptoKey } from 'jose';
import * as oidc from 'openid-client';
import { OperationOutcomeError, serverError, unauthorized } from '../outcome';
import type { FhirRepository } from '../repository';

export interface RemoteFhirAuth {
  /** The OIDC issuer (HelseID: https://helseid-sts.nhn.no). */
  issuer: string;
  clientId: string;
  /** The client's private signing key for private_key_jwt, and its key id as registered. */
  privateKey: CryptoKey;
  kid?: string;
  scope: string;
  /** RFC 8707 resource indicator of the FHIR API, when the issuer wants one. */
  resource?: string;
  /** DPoP-bound tokens; default true (HelseID requires DPoP). */
  dpop?: boolean;
  /** Allow http:// issuers (loopback development and tests only). */
  allowInsecureRequests?: boolean;
}

export interface RemoteFhirOptions {
  /** The server's base URL, e.g. https://fhir.example.no/fhir (no trailing slash needed). */
  baseUrl: string;
  /** Without auth, requests go unauthenticated (only for servers on a trusted network). */
  auth?: RemoteFhirAuth;
}

export interface RemoteSearchResult {
  resources: Resource[];
  included: Resource[];
  total?: number;
  next?: string;
}

/** Renew a token this long before it expires. */
const EXPIRY_MARGIN_MS = 30_000;

export class RemoteFhirRepository implements FhirRepository {
  private readonly baseUrl: string;
  private config?: Promise<oidc.Configuration>;
  private dpop?: oidc.DPoPHandle;
  private token?: { value: string; expiresAt: number };

  constructor(private readonly options: RemoteFhirOptions) {
    this.baseUrl = options.baseUrl.replace(/\/$/, '');
  }

  async read<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<T> {
    return (await this.request('GET', `${resourceType}/${encodeURIComponent(id)}`)) as T;
  }

  async vread<T extends Resource>(resourceType: T['resourceType'], id: string, versionId: string): Promise<T> {
    return (await this.request('GET', `${resourceType}/${encodeURIComponent(id)}/_history/${encodeURIComponent(versionId)}`)) as T;
  }

  async create<T extends Resource>(resource: T, options: { ifNoneExist?: string } = {}): Promise<T> {
    return (await this.request('POST', resource.resourceType, resource, options.ifNoneExist ? { 'if-none-exist': options.ifNoneExist } : {})) as T;
  }

  async update<T extends Resource>(resource: T, options: { ifMatch?: string } = {}): Promise<T> {
    if (!resource.id) throw new TypeError('update needs resource.id');
    return (await this.request('PUT', `${resource.resourceType}/${encodeURIComponent(resource.id)}`, resource, options.ifMatch ? { 'if-match': options.ifMatch } : {})) as T;
  }

  async delete(resourceType: string, id: string): Promise<void> {
    await this.request('DELETE', `${resourceType}/${encodeURIComponent(id)}`);
  }

  async search(resourceType: string, params: Record<string, string | string[]>): Promise<RemoteSearchResult> {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) for (const v of Array.isArray(value) ? value : [value]) query.append(name, v);
    const bundle = (await this.request('GET', `${resourceType}?${query}`)) as Bundle;
    const entries = bundle.entry ?? [];
    return {
      resources: entries.filter((e) => e.search?.mode !== 'include').map((e) => e.resource!).filter(Boolean),
      included: entries.filter((e) => e.search?.mode === 'include').map((e) => e.resource!).filter(Boolean),
      ...(bundle.total !== undefined ? { total: bundle.total } : {}),
      ...(bundle.link?.find((l) => l.relation === 'next')?.url ? { next: bundle.link.find((l) => l.relation === 'next')!.url } : {}),
    };
  }

  async transaction(bundle: Bundle): Promise<Bundle> {
    return (await this.request('POST', '', bundle)) as Bundle;
  }

  private async request(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<Resource | undefined> {
    const url = new URL(path ? `${this.baseUrl}/${path}` : this.baseUrl);
    const headers = new Headers({ accept: 'application/fhir+json', ...extraHeaders });
    if (body !== undefined) headers.set('content-type', 'application/fhir+json');
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let response: Response;
    if (this.options.auth) {
      response = await this.authorizedFetch(url, method, payload, headers);
    } else {
      response = await fetch(url, { method, headers, body: payload });
    }
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as Resource) : undefined;
    if (!response.ok) {
      const outcome: OperationOutcome = parsed?.resourceType === 'OperationOutcome' ? parsed : serverError(`${method} ${url.pathname} answered ${response.status} without an OperationOutcome`);
      throw new OperationOutcomeError(outcome, response.status);
    }
    return parsed;
  }

  /**
   * openid-client throws on a WWW-Authenticate challenge; a 401 gets one retry
   * with a new token (expired or revoked), anything else (403 insufficient
   * scope) goes back as the server's own answer.
   */
  private async authorizedFetch(url: URL, method: string, payload: string | undefined, headers: Headers): Promise<Response> {
    const config = await this.configuration();
    for (let attempt = 1; ; attempt++) {
      try {
        return await oidc.fetchProtectedResource(config, await this.accessToken(), url, method, payload, headers, { DPoP: this.dpop });
      } catch (error) {
        const challenged = error as { code?: string; response?: Response; cause?: { parameters?: { error_description?: string; error?: string } }[] };
        if (challenged.code !== 'OAUTH_WWW_AUTHENTICATE_CHALLENGE' || !challenged.response) throw error;
        if (challenged.response.status !== 401) return challenged.response;
        this.token = undefined;
        if (attempt >= 2) {
          const reason = challenged.cause?.[0]?.parameters;
          throw new OperationOutcomeError(unauthorized(`${method} ${url.pathname} was refused: ${reason?.error_description ?? reason?.error ?? 'authentication failed'}`), 401);
        }
      }
    }
  }

  private configuration(): Promise<oidc.Configuration> {
    const auth = this.options.auth!;
    this.config ??= oidc
      .discovery(new URL(auth.issuer), auth.clientId, { token_endpoint_auth_method: 'private_key_jwt' }, oidc.PrivateKeyJwt({ key: auth.privateKey, kid: auth.kid }), auth.allowInsecureRequests ? { execute: [oidc.allowInsecureRequests] } : undefined)
      .then(async (config) => {
        if (auth.dpop !== false) this.dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
        return config;
      });
    return this.config;
  }

  private async accessToken(): Promise<string> {
    if (this.token && this.token.expiresAt - EXPIRY_MARGIN_MS > Date.now()) return this.token.value;
    const auth = this.options.auth!;
    const config = await this.configuration();
    const tokens = await oidc.clientCredentialsGrant(config, { scope: auth.scope, ...(auth.resource ? { resource: auth.resource } : {}) }, { DPoP: this.dpop });
    this.token = { value: tokens.access_token, expiresAt: Date.now() + (tokens.expiresIn() ?? 60) * 1000 };
    return this.token.value;
  }
}
