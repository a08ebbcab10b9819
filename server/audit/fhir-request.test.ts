import { classifyFhirRequest } from './fhir-request';

describe('classifyFhirRequest', () => {
  it.each([
    ['GET', '/Task/1', { interaction: 'read', resourceType: 'Task', id: '1' }],
    ['GET', '/Task/1/_history/3', { interaction: 'vread', resourceType: 'Task', id: '1', versionId: '3' }],
    ['GET', '/Task/1/_history', { interaction: 'history-instance', resourceType: 'Task', id: '1' }],
    ['GET', '/Task/_history', { interaction: 'history-type', resourceType: 'Task' }],
    ['GET', '/_history', { interaction: 'history-system' }],
    ['GET', '/Task', { interaction: 'search-type', resourceType: 'Task' }],
    ['POST', '/Task/_search', { interaction: 'search-type', resourceType: 'Task' }],
    ['GET', '/', { interaction: 'search-system' }],
    ['POST', '/Task', { interaction: 'create', resourceType: 'Task' }],
    ['PUT', '/Task/1', { interaction: 'update', resourceType: 'Task', id: '1' }],
    ['PUT', '/Task', { interaction: 'update', resourceType: 'Task', conditional: true }],
    ['PATCH', '/Task/1', { interaction: 'patch', resourceType: 'Task', id: '1' }],
    ['DELETE', '/Task/1', { interaction: 'delete', resourceType: 'Task', id: '1' }],
    ['POST', '/', { interaction: 'transaction' }],
    ['GET', '/metadata', { interaction: 'capabilities' }],
    ['POST', '/CarePlan/7/$apply', { interaction: 'operation', resourceType: 'CarePlan', id: '7', operation: 'apply' }],
    ['POST', '/$export', { interaction: 'operation', operation: 'export' }],
  ] as const)('%s %s', (method, path, expected) => {
    expect(classifyFhirRequest(method, path)).toEqual(expected);
  });

  it('marks a create with search criteria as conditional', () => {
    expect(classifyFhirRequest('POST', '/Patient', true)).toEqual({ interaction: 'create', resourceType: 'Patient', conditional: true });
  });

  it('returns undefined for paths that are not FHIR', () => {
    expect(classifyFhirRequest('GET', '/dashboard/x')).toBeUndefined();
    expect(classifyFhirRequest('POST', '/Task/1')).toBeUndefined();
  });
});
