/**
 * The one OperationOutcome module (https://hl7.org/fhir/R4/operationoutcome.html):
 * small factories, one error type, and one mapping from an outcome to an
 * HTTP status. Every FHIR error Forløp sends is made here.
 */
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

export type IssueCode = OperationOutcomeIssue['code'];

export function issue(code: IssueCode, text: string, expression?: string | string[], severity: OperationOutcomeIssue['severity'] = 'error'): OperationOutcomeIssue {
  return {
    severity,
    code,
    details: { text },
    // HAPI-based tools show only diagnostics; FHIR clients read details.text: both carry the text.
    diagnostics: text,
    ...(expression === undefined ? {} : { expression: Array.isArray(expression) ? expression : [expression] }),
  };
}

export function outcome(...issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues.map(withDiagnostics) };
}

/** An issue whose text is in diagnostics too (issues from @medplum/core's validator carry only one of them). */
function withDiagnostics(i: OperationOutcomeIssue): OperationOutcomeIssue {
  if (i.diagnostics !== undefined && i.details?.text !== undefined) return i;
  const text = i.details?.text ?? i.diagnostics;
  return text === undefined ? i : { ...i, details: { ...i.details, text }, diagnostics: text };
}

export const allOk = (text = 'All OK'): OperationOutcome => outcome(issue('informational', text, undefined, 'information'));
export const created = (text = 'Created'): OperationOutcome => outcome(issue('informational', text, undefined, 'information'));
export const badRequest = (text: string, expression?: string | string[]) => outcome(issue('invalid', text, expression));
export const unprocessable = (issues: OperationOutcomeIssue[]) => outcome(...issues);
export const notFound = (text = 'Not found') => outcome(issue('not-found', text));
export const gone = (text = 'Deleted') => outcome(issue('deleted', text));
export const conflict = (text: string) => outcome(issue('conflict', text));
export const preconditionFailed = (text: string) => outcome(issue('conflict', text));
export const unauthorized = (text = 'Authentication required') => outcome(issue('login', text));
export const forbidden = (text = 'Forbidden') => outcome(issue('forbidden', text));
export const tooLarge = (text: string) => outcome(issue('too-costly', text));
export const unsupportedMediaType = (text: string) => outcome(issue('not-supported', text));
export const methodNotAllowed = (text: string) => outcome(issue('not-supported', text));
export const notSupported = (text: string, expression?: string) => outcome(issue('not-supported', text, expression));
export const serverError = (text = 'Internal server error') => outcome(issue('exception', text));

/**
 * The HTTP status for an outcome, from its first error issue
 * (https://hl7.org/fhir/R4/http.html#2.21.0.17).
 */
export function statusOf(o: OperationOutcome, hint?: number): number {
  if (hint) return hint;
  const first = o.issue?.find((i) => i.severity === 'error' || i.severity === 'fatal') ?? o.issue?.[0];
  switch (first?.code) {
    case 'informational':
      return 200;
    case 'not-found':
      return 404;
    case 'deleted':
      return 410;
    case 'login':
    case 'unknown':
      return first.code === 'login' ? 401 : 400;
    case 'forbidden':
    case 'security':
      return 403;
    case 'conflict':
      return /version|If-Match|precondition/i.test(first.details?.text ?? '') ? 412 : 409;
    case 'too-costly':
      return 413;
    case 'not-supported':
      return /media type|content type/i.test(first.details?.text ?? '') ? 415 : /method/i.test(first.details?.text ?? '') ? 405 : 400;
    case 'exception':
      return 500;
    case 'invalid':
    case 'structure':
    case 'required':
    case 'value':
    case 'invariant':
    case 'code-invalid':
    case 'business-rule':
      // Content that parses but is not a valid resource is 422 (FHIR http "Unprocessable Entity");
      // requests that cannot be understood are 400: callers pass the status when it matters.
      return 400;
    default:
      return 400;
  }
}

/** An error that carries its OperationOutcome (and optionally the exact status) to the one error handler. */
export class OperationOutcomeError extends Error {
  constructor(
    readonly outcome: OperationOutcome,
    readonly status: number = statusOf(outcome),
    /** Headers the response must carry (405: Allow, RFC 9110 15.5.6). */
    readonly headers: Record<string, string> = {},
  ) {
    super(outcome.issue?.map((i) => i.details?.text ?? i.code).join('; ') ?? 'OperationOutcome');
    this.name = 'OperationOutcomeError';
  }
}
