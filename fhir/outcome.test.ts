import { unprocessable, badRequest, conflict, forbidden, gone, notFound, OperationOutcomeError, preconditionFailed, serverError, statusOf, tooLarge, unauthorized, unsupportedMediaType } from './outcome';

describe('OperationOutcome', () => {
  it.each([
    [notFound('Task/x not found'), 404],
    [gone('Task/x was deleted'), 410],
    [badRequest('Unknown search parameter: foo', 'foo'), 400],
    [conflict('Task/x exists'), 409],
    [preconditionFailed('Version mismatch: If-Match W/"1" but current is W/"2"'), 412],
    [unauthorized(), 401],
    [forbidden('Organization/a does not take part in this family'), 403],
    [tooLarge('Request body is larger than 1 MB'), 413],
    [unsupportedMediaType('Unsupported content type text/plain: use application/fhir+json'), 415],
    [serverError(), 500],
  ])('maps %j to %d', (outcome, status) => {
    expect(statusOf(outcome)).toBe(status);
  });

  it('builds issues with their expression and carries them in one error type', () => {
    const error = new OperationOutcomeError(badRequest('Invalid date prefix', 'date'));
    expect(error.status).toBe(400);
    expect(error.outcome).toEqual({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', details: { text: 'Invalid date prefix' }, diagnostics: 'Invalid date prefix', expression: ['date'] }] });
    expect(error.message).toBe('Invalid date prefix');
  });

  it('puts the text in diagnostics and details.text alike, whichever an issue came with (HAPI-based tools show only diagnostics)', () => {
    const fromValidator = unprocessable([{ severity: 'error', code: 'structure', diagnostics: 'Missing required property', expression: ['Task.status'] }]);
    expect(fromValidator.issue![0]).toEqual({ severity: 'error', code: 'structure', details: { text: 'Missing required property' }, diagnostics: 'Missing required property', expression: ['Task.status'] });
  });
});
