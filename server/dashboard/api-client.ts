/**
 * The dashboard's calls to Forløp's own coordinator API and FHIR API, over
 * HTTP with the logged-in user's access token: the dashboard passes exactly
 * the checks any client passes (authentication, scopes, organisation
 * access) and each call leaves its AuditEvent, naming the user.
 */
import type { OidcLogin } from './login';
import type { Session } from './session';

/** The session's token can no longer be used or renewed: the user must log in again. */
export class LoginRequired extends Error {
  override readonly name = 'LoginRequired';
}

/** The API refused or failed: its status and the OperationOutcome's text. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiClient {
  get<T>(path: string): Promise<T>;
  send<T>(method: 'POST' | 'PUT', path: string, body: unknown): Promise<T>;
}

function outcomeText(body: unknown): string {
  const issues = (body as { issue?: { diagnostics?: string; details?: { text?: string } }[] } | undefined)?.issue;
  return issues?.map((i) => i.diagnostics ?? i.details?.text).filter(Boolean).join('; ') || 'no details';
}

export function apiClient(baseUrl: string, session: Session, login: OidcLogin): ApiClient {
  async function token(): Promise<string> {
    if (session.tokens.expiresAt - 30_000 > Date.now()) return session.tokens.accessToken;
    if (!session.tokens.refreshToken) throw new LoginRequired('the access token expired and there is no refresh token');
    try {
      session.tokens = await login.refresh(session.tokens.refreshToken);
    } catch (error) {
      throw new LoginRequired(`the access token could not be renewed: ${(error as Error).message}`);
    }
    return session.tokens.accessToken;
  }

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${await token()}`, accept: 'application/fhir+json, application/json', ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (response.status === 401) throw new LoginRequired(`the API refused the token: ${outcomeText(parsed)}`);
    if (!response.ok) throw new ApiError(response.status, outcomeText(parsed));
    return parsed as T;
  }

  return {
    get: (path) => call('GET', path),
    send: (method, path, body) => call(method, path, body),
  };
}
