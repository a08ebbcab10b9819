/**
 * Authentication and authorisation failures, carrying what the HTTP layer
 * needs: status, the WWW-Authenticate challenge (RFC 6750 3, RFC 9449 7.1)
 * and an OperationOutcome body.
 *
 * The OperationOutcome is built here as plain JSON until fhir/outcome.ts
 * exists; then these factories should delegate to it.
 */

export type AuthScheme = 'Bearer' | 'DPoP';
/** Error codes from RFC 6750 3.1 and RFC 9449 7.1 / 12.2. */
export type AuthErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof' | 'use_dpop_nonce';

export interface OperationOutcomeJson {
  resourceType: 'OperationOutcome';
  issue: { severity: 'error'; code: 'login' | 'forbidden' | 'security'; details: { text: string }; diagnostics: string }[];
}

export interface Challenge {
  scheme: AuthScheme;
  error?: AuthErrorCode;
  description?: string;
  scope?: string;
  algs?: readonly string[];
}

export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly status: 401 | 403,
    message: string,
    /** Challenges for WWW-Authenticate; more than one when both schemes are accepted. */
    readonly challenges: readonly Challenge[],
  ) {
    super(message);
  }

  get wwwAuthenticate(): string {
    return this.challenges.map(formatChallenge).join(', ');
  }

  get operationOutcome(): OperationOutcomeJson {
    return {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: this.status === 401 ? 'login' : 'forbidden', details: { text: this.message }, diagnostics: this.message }],
    };
  }
}

/** Quoted-string per RFC 9110 5.6.4; error_description may not contain '"' or '\' (RFC 6750 3). */
function quote(value: string): string {
  return `"${value.replace(/["\\]/g, "'")}"`;
}

export function formatChallenge(c: Challenge): string {
  const params: string[] = [];
  params.push(`realm=${quote('forlop')}`);
  if (c.error) params.push(`error=${quote(c.error)}`);
  if (c.description) params.push(`error_description=${quote(c.description)}`);
  if (c.scope) params.push(`scope=${quote(c.scope)}`);
  if (c.scheme === 'DPoP' && c.algs?.length) params.push(`algs=${quote(c.algs.join(' '))}`);
  return `${c.scheme} ${params.join(', ')}`;
}
