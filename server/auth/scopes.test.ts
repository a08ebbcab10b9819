import { allows, parseScope, parseScopes, requiredScope } from './scopes';

describe('parseScope', () => {
  it('parses v2 scopes', () => {
    const s = parseScope('system/Task.rs')!;
    expect(s.context).toBe('system');
    expect(s.resourceType).toBe('Task');
    expect([...s.permissions]).toEqual(['r', 's']);
  });

  it('maps v1 read/write/* to v2 permissions', () => {
    expect([...parseScope('user/Encounter.read')!.permissions]).toEqual(['r', 's']);
    expect([...parseScope('user/Encounter.write')!.permissions]).toEqual(['c', 'u', 'd']);
    expect([...parseScope('system/*.*')!.permissions]).toEqual(['c', 'r', 'u', 'd', 's']);
  });

  it('rejects permissions out of order, repeated or unknown', () => {
    expect(parseScope('system/Task.sr')).toBeUndefined();
    expect(parseScope('system/Task.rr')).toBeUndefined();
    expect(parseScope('system/Task.rx')).toBeUndefined();
    expect(parseScope('openid')).toBeUndefined();
    expect(parseScope('system/task.rs')).toBeUndefined();
  });

  it('keeps the query of a fine-grained scope', () => {
    expect(parseScope('system/Observation.rs?category=laboratory')!.query).toBe('category=laboratory');
  });
});

describe('allows', () => {
  const scopes = parseScopes('openid system/Task.rs system/Encounter.cu user/CarePlan.read');

  it.each([
    ['Task', 'read', true],
    ['Task', 'vread', true],
    ['Task', 'history', true],
    ['Task', 'search', true],
    ['Task', 'update', false],
    ['Task', 'create', false],
    ['Encounter', 'create', true],
    ['Encounter', 'update', true],
    ['Encounter', 'patch', true],
    ['Encounter', 'read', false],
    ['Encounter', 'delete', false],
    ['CarePlan', 'search', true],
    ['CarePlan', 'delete', false],
    ['Patient', 'read', false],
  ] as const)('%s %s -> %s', (type, interaction, expected) => {
    expect(allows(scopes, type, interaction)).toBe(expected);
  });

  it('lets a wildcard scope cover every resource type', () => {
    const all = parseScopes('system/*.cruds');
    expect(allows(all, 'AuditEvent', 'search')).toBe(true);
    expect(allows(all, 'Patient', 'delete')).toBe(true);
  });

  it('combines permissions from several scopes for an operation', () => {
    expect(allows(parseScopes('system/Task.r'), 'Task', 'operation')).toBe(false);
    expect(allows(parseScopes('system/Task.r system/Task.u'), 'Task', 'operation')).toBe(true);
  });

  it('grants nothing for patient/ scopes or fine-grained scopes', () => {
    expect(allows(parseScopes('patient/*.cruds'), 'Task', 'read')).toBe(false);
    expect(allows(parseScopes('system/Observation.rs?category=laboratory'), 'Observation', 'read')).toBe(false);
  });

  it('names the scope to ask for', () => {
    expect(requiredScope('Task', 'search')).toBe('system/Task.s');
  });
});
