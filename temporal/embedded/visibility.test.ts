import { matches, parseQuery, type Value } from './visibility';

const known = (f: string) => ['WorkflowType', 'ExecutionStatus', 'StartTime', 'FamilyPhase', 'Overdue', 'Orgs', 'Paused'].includes(f);
const row = (values: Record<string, Value>) => (field: string) => values[field];
const family = row({ WorkflowType: 'familyPathway', ExecutionStatus: 1, StartTime: Date.parse('2026-03-01T00:00:00Z'), FamilyPhase: 'postnatal', Overdue: 2, Orgs: ['a', 'b'], Paused: false });
const test = (q: string) => matches(parseQuery(q, known).where, family);

describe('the list query subset', () => {
  it.each([
    ["WorkflowType = 'familyPathway' AND ExecutionStatus = 'Running'", true],
    ["ExecutionStatus = 'Completed'", false],
    ["FamilyPhase IN ('pregnancy', 'postnatal')", true],
    ["FamilyPhase NOT IN ('pregnancy', 'postnatal')", false],
    ['Overdue BETWEEN 1 AND 3', true],
    ['Overdue > 2', false],
    ["StartTime >= '2026-01-01T00:00:00Z' AND StartTime < '2026-04-01T00:00:00Z'", true],
    ["FamilyPhase STARTS_WITH 'post'", true],
    ['Paused = false', true],
    ["Orgs = 'b'", true],
    ['FamilyPhase IS NULL', false],
    ['FamilyPhase IS NOT NULL', true],
    ["(FamilyPhase = 'pregnancy' OR Overdue >= 2) AND WorkflowType = 'familyPathway'", true],
    ["FamilyPhase = 'pregnancy' OR Overdue >= 2 AND WorkflowType = 'other'", false],
  ])('%s -> %s', (query, expected) => {
    expect(test(query)).toBe(expected);
  });

  it('reads ORDER BY', () => {
    expect(parseQuery("WorkflowType = 'x' ORDER BY StartTime ASC", known).orderBy).toEqual({ field: 'StartTime', desc: false });
    expect(parseQuery('ORDER BY StartTime DESC', known)).toEqual({ orderBy: { field: 'StartTime', desc: true } });
  });

  it.each([
    ["Colour = 'red'", 'invalid query: unknown search attribute Colour'],
    ["FamilyPhase LIKE 'post%'", "invalid query: unsupported operator 'LIKE' after FamilyPhase"],
    ["FamilyPhase = 'x' AND", "invalid query: expected a field name but found 'end of query'"],
    ['FamilyPhase = postnatal', "invalid query: 'postnatal' is not a value; quote strings and dates ('...')"],
    ["ExecutionStatus = 'Sleeping'", "invalid query: ExecutionStatus 'Sleeping' is not one of Running, Completed, Failed, Canceled, Terminated, ContinuedAsNew, TimedOut"],
  ])('refuses %s', (query, message) => {
    expect(() => test(query)).toThrow(message);
  });
});
