/**
 * Where a resource type's search is answered from, chosen once per type:
 * most types from fhir.resource and the index tables (token, reference,
 * date); AuditEvents from their own table (audit-events.ts), whose columns
 * hold their search parameters' values.
 */
import { badRequest, OperationOutcomeError } from '../../outcome';
import { AUDIT_EVENT, AUDIT_SEARCH_COLUMNS } from '../audit-events';
import { accessCondition, type AccessScope } from '../access';
import { paramFor, type IndexedParam } from '../search-parameters';
import { and, compare, type Condition, exists, fixed, not } from '../sql';
import { dateCondition, referenceArrayCondition, referenceCondition, tokenCondition } from './params';

export interface SearchTable {
  table: string;
  /** What every search of the type starts from (its type, not deleted). */
  base(resourceType: string): Condition[];
  /** One value of an indexed parameter. */
  /** `scope`: what the caller may see, which a chain's target must be too. */
  condition(param: IndexedParam, key: string, modifier: string | undefined, value: string, scope?: AccessScope): Condition;
}

/**
 * One value of an indexed parameter of the resource at `outer` (an alias of
 * fhir.resource), on the index table of its type; the modifiers
 * (search.html#modifiers): :missing (has no value for it), :not on a token
 * (no value matches), :Type on a reference, and a chain
 * (`subject:Patient.identifier=...`, search.html#chaining: a reference to a
 * current resource of the type that matches the rest).
 */
export function indexedCondition(param: IndexedParam, key: string, modifier: string | undefined, value: string, outer = 'r', scope?: AccessScope): Condition {
  const name = param.code;
  const table = param.type === 'token' ? 'fhir.token_index' : param.type === 'reference' || param.type === 'uri' ? 'fhir.reference_index' : 'fhir.date_index';
  const alias = param.type === 'token' ? 't' : param.type === 'reference' || param.type === 'uri' ? 'x' : 'd';
  const owned = (where: Condition) => exists(table, alias, `${alias}.resource_type = ${outer}.resource_type AND ${alias}.id = ${outer}.id`, and(compare(`${alias}.param`, '=', name), where));
  if (modifier === 'missing') {
    if (value !== 'true' && value !== 'false') throw new OperationOutcomeError(badRequest(`${key} takes true or false, not '${value}'`, key), 400);
    const has = owned(fixed('TRUE'));
    return value === 'true' ? not(has) : has;
  }
  if (param.type === 'token') {
    if (modifier === 'not') return not(owned(tokenCondition(value, 't.system', 't.code')));
    return owned(tokenCondition(value, 't.system', 't.code'));
  }
  if (param.type === 'reference' || param.type === 'uri') {
    const chain = modifier?.split('.');
    if (chain && chain.length > 1) return owned(chained(name, chain[0], chain.slice(1).join('.'), key, value, scope));
    return owned(referenceCondition(value, modifier, 'x.target'));
  }
  return owned(dateCondition("COALESCE(d.low, '-infinity'::timestamptz)", "COALESCE(d.high, 'infinity'::timestamptz)", value, name));
}

/** A chain's link: x.target names a current `targetType` whose `rest` parameter matches `value` (one level, as HAPI's default). */
function chained(name: string, targetType: string, rest: string, key: string, value: string, scope?: AccessScope): Condition {
  const target = /^[A-Z][A-Za-z]+$/.test(targetType) ? paramFor(targetType, rest) : undefined;
  if (!target || rest.includes('.') || rest.includes(':')) {
    throw new OperationOutcomeError(badRequest(`Unsupported chain '${key}': use ${name}:<Type>.<a search parameter of Type> (one level)`, key), 400);
  }
  // split_part finds the row by its key; the equality keeps a target of another type (or an absolute URL) out.
  const correlation = "c.id = split_part(x.target, '/', 2) AND c.resource_type || '/' || c.id = x.target AND NOT c.deleted";
  // The target must be one the caller may see: else a chain would tell whether a hidden resource has a value.
  const visible = scope ? [accessCondition(targetType, scope, 'c')] : [];
  return exists('fhir.resource', 'c', correlation, and(compare('c.resource_type', '=', targetType), ...visible, indexedCondition(target, key, undefined, value, 'c')));
}

/** fhir.resource, with one index table per parameter type. */
const resourceTable: SearchTable = {
  table: 'fhir.resource',
  base: (resourceType) => [compare('r.resource_type', '=', resourceType), fixed('NOT r.deleted')],
  condition: (param, key, modifier, value, scope) => indexedCondition(param, key, modifier, value, 'r', scope),
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
