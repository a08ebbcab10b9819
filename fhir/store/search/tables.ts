/**
 * Where a resource type's search is answered from, chosen once per type:
 * most types from fhir.resource and the index tables (token, reference,
 * date); AuditEvents from their own table (audit-events.ts), whose columns
 * hold their search parameters' values.
 */
import { badRequest, OperationOutcomeError } from '../../outcome';
import { AUDIT_EVENT, AUDIT_SEARCH_COLUMNS } from '../audit-events';
import type { IndexedParam } from '../search-parameters';
import { and, compare, type Condition, exists, fixed } from '../sql';
import { dateCondition, referenceArrayCondition, referenceCondition, tokenCondition } from './params';

export interface SearchTable {
  table: string;
  /** What every search of the type starts from (its type, not deleted). */
  base(resourceType: string): Condition[];
  /** One value of an indexed parameter. */
  condition(param: IndexedParam, key: string, modifier: string | undefined, value: string): Condition;
}

/** fhir.resource, with one index table per parameter type. */
const resourceTable: SearchTable = {
  table: 'fhir.resource',
  base: (resourceType) => [compare('r.resource_type', '=', resourceType), fixed('NOT r.deleted')],
  condition(param, _key, modifier, value) {
    const name = param.code;
    if (param.type === 'token') {
      return exists('fhir.token_index', 't', 't.resource_type = r.resource_type AND t.id = r.id', and(compare('t.param', '=', name), tokenCondition(value, 't.system', 't.code')));
    }
    if (param.type === 'reference' || param.type === 'uri') {
      return exists('fhir.reference_index', 'x', 'x.resource_type = r.resource_type AND x.id = r.id', and(compare('x.param', '=', name), referenceCondition(value, modifier, 'x.target')));
    }
    return exists(
      'fhir.date_index', 'd', 'd.resource_type = r.resource_type AND d.id = r.id',
      and(compare('d.param', '=', name), dateCondition("COALESCE(d.low, '-infinity'::timestamptz)", "COALESCE(d.high, 'infinity'::timestamptz)", value, name)),
    );
  },
};

/** fhir.audit_event: one row per AuditEvent, a column per search parameter. */
const auditEventTable: SearchTable = {
  table: 'fhir.audit_event',
  base: () => [],
  condition(param, key, modifier, value) {
    const column = AUDIT_SEARCH_COLUMNS[param.code];
    if (!column) throw new OperationOutcomeError(badRequest(`Unsupported search parameter '${key}' for ${AUDIT_EVENT}`, key), 400);
    if (column.type === 'token') return tokenCondition(value, column.system, column.code);
    if (column.type === 'reference') return referenceArrayCondition(value, modifier, column.column);
    return dateCondition(column.column, column.column, value, param.code);
  },
};

export function searchTable(resourceType: string): SearchTable {
  return resourceType === AUDIT_EVENT ? auditEventTable : resourceTable;
}
