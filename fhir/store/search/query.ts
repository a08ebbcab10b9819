/**
 * A FHIR search (https://hl7.org/fhir/R4/search.html) as one SQL query: the
 * request's parameters parsed once, each turned into a condition
 * (params.ts, on the table of tables.ts), rendered by sql.ts. Paging,
 * sorting and the organisation filter are added here, in one place. An
 * unsupported parameter is a 400, never a silently ignored filter.
 */
import { badRequest, OperationOutcomeError } from '../../outcome';
import { accessCondition, type AccessScope } from '../access';
import { paramFor, paramsFor } from '../search-parameters';
import { and, compare, type Condition, type SelectQuery } from '../sql';
import { dateCondition } from './params';
import { searchTable } from './tables';

const MAX_COUNT = 1000;

export interface Include {
  reverse: boolean;
  source: string;
  param: string;
  target?: string;
}

export interface SearchPlan {
  query: SelectQuery;
  /** _total=accurate: count every match. */
  total: boolean;
  includes: Include[];
}

/** With a `scope`, only what it may see matches: the page, the total and paging alike. */
export function planSearch(resourceType: string, params: Record<string, string | string[]>, scope?: AccessScope): SearchPlan {
  const table = searchTable(resourceType);
  const where: Condition[] = table.base(resourceType);
  if (scope) where.push(accessCondition(resourceType, scope));
  let count = 20;
  let offset = 0;
  let order = 'r.last_updated DESC, r.id';
  let total = false;
  let summaryCount = false;
  const includes: Include[] = [];
  for (const [key, raw] of Object.entries(params)) {
    const list = Array.isArray(raw) ? raw : [raw];
    const [name, modifier] = key.split(':');
    for (const value of list) {
      if (name === '_count') count = Math.min(MAX_COUNT, Math.max(0, Number(value) || 0));
      else if (name === '_offset') offset = Math.max(0, Number(value) || 0);
      else if (name === '_total') total = value === 'accurate';
      else if (name === '_include' || name === '_revinclude') includes.push(include(resourceType, name, value));
      else if (name === '_sort') order = sortOrder(resourceType, table.table, value);
      else if (name === '_summary') {
        if (value !== 'count') throw new OperationOutcomeError(badRequest(`Unsupported _summary '${value}': only _summary=count (the total, no entries) is supported`, '_summary'), 400);
        summaryCount = true;
      } else if (name === '_elements') continue; // applied to the page by the REST layer, after access checks
      else if (name === '_id') where.push(compare('r.id', '= ANY', value.split(',')));
      else if (name === '_lastUpdated') where.push(dateCondition('r.last_updated', 'r.last_updated', value, '_lastUpdated'));
      else {
        const param = paramFor(resourceType, name);
        if (!param || (modifier && !modifierApplies(param.type, modifier)) || (modifier && table.table !== 'fhir.resource' && !/^[A-Z][A-Za-z]+$/.test(modifier))) {
          throw new OperationOutcomeError(badRequest(`Unsupported search parameter '${key}' for ${resourceType}; see GET /fhir/metadata for the supported ones`, key), 400);
        }
        where.push(table.condition(param, key, modifier, value, scope));
      }
    }
  }
  if (summaryCount) return { query: { table: table.table, alias: 'r', where: and(...where), orderBy: order, limit: 0, offset: 0 }, total: true, includes: [] };
  return { query: { table: table.table, alias: 'r', where: and(...where), orderBy: order, limit: count, offset }, total, includes };
}

/** The modifiers this store answers (search.html#modifiers), by parameter type. */
function modifierApplies(type: string, modifier: string): boolean {
  if (modifier === 'missing') return true;
  if (type === 'token') return modifier === 'not';
  if (type === 'reference') return /^[A-Z][A-Za-z]+(\.[a-z][a-z-]*)?$/.test(modifier);
  return false;
}

function include(resourceType: string, name: '_include' | '_revinclude', value: string): Include {
  const [source, code, target] = value.split(':');
  const reverse = name === '_revinclude';
  const param = source ? paramFor(source, code ?? '') : undefined;
  if (!param || param.type !== 'reference' || (!reverse && source !== resourceType)) {
    throw new OperationOutcomeError(badRequest(`Unsupported ${name} '${value}': use ${reverse ? 'SourceType' : resourceType}:<reference parameter>[:TargetType]`, name), 400);
  }
  return { reverse, source, param: code, target };
}

/**
 * _sort (search.html#sort): comma-separated keys, each ascending or (with
 * '-') descending; _lastUpdated, _id, and the date and token parameters; dates sort
 * by the earliest (ascending) or latest (descending) moment of a
 * resource's values (tokens by code), those without a value last. The id breaks ties so
 * pages do not overlap.
 */
export function sortOrder(resourceType: string, table: string, value: string): string {
  const keys = value.split(',').map((key) => {
    const descending = key.startsWith('-');
    const name = descending ? key.slice(1) : key;
    const direction = descending ? 'DESC' : 'ASC';
    if (name === '_lastUpdated') return `r.last_updated ${direction}`;
    if (name === '_id') return `r.id ${direction}`;
    const param = paramFor(resourceType, name);
    if (param?.type === 'date' && table === 'fhir.resource') {
      // The earliest moment ascending, the latest descending. param.code comes from the parameter registry (checked above), never from the request.
      const bound = descending ? 'max(d.high)' : 'min(d.low)';
      return `(SELECT ${bound} FROM fhir.date_index d WHERE d.resource_type = r.resource_type AND d.id = r.id AND d.param = '${param.code}') ${direction} NULLS LAST`;
    }
    if (param?.type === 'token' && table === 'fhir.resource') {
      // By code (HAPI sorts a token by its system, then code; here one system per parameter is the rule).
      const bound = descending ? 'max(t.code)' : 'min(t.code)';
      return `(SELECT ${bound} FROM fhir.token_index t WHERE t.resource_type = r.resource_type AND t.id = r.id AND t.param = '${param.code}') ${direction} NULLS LAST`;
    }
    throw new OperationOutcomeError(badRequest(`Unsupported _sort '${key}' for ${resourceType}: use _lastUpdated, _id or a date or token parameter (${sortable(resourceType, table).join(', ') || 'none'}), '-' first for descending`, '_sort'), 400);
  });
  return `${keys.join(', ')}, r.id`;
}

/** The parameters _sort takes for a type (beside _lastUpdated and _id). */
export function sortable(resourceType: string, table: string): string[] {
  return table === 'fhir.resource' ? paramsFor(resourceType).filter((p) => p.type === 'date' || p.type === 'token').map((p) => p.code) : [];
}
