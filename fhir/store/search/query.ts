/**
 * A FHIR search (https://hl7.org/fhir/R4/search.html) as one SQL query: the
 * request's parameters parsed once, each turned into a condition
 * (params.ts, on the table of tables.ts), rendered by sql.ts. Paging,
 * sorting and the organisation filter are added here, in one place. An
 * unsupported parameter is a 400, never a silently ignored filter.
 */
import { badRequest, OperationOutcomeError } from '../../outcome';
import { accessCondition, type AccessScope } from '../access';
import { paramFor } from '../search-parameters';
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
  const includes: Include[] = [];
  for (const [key, raw] of Object.entries(params)) {
    const list = Array.isArray(raw) ? raw : [raw];
    const [name, modifier] = key.split(':');
    for (const value of list) {
      if (name === '_count') count = Math.min(MAX_COUNT, Math.max(0, Number(value) || 0));
      else if (name === '_offset') offset = Math.max(0, Number(value) || 0);
      else if (name === '_total') total = value === 'accurate';
      else if (name === '_include' || name === '_revinclude') includes.push(include(resourceType, name, value));
      else if (name === '_sort') order = sortOrder(value);
      else if (name === '_id') where.push(compare('r.id', '= ANY', value.split(',')));
      else if (name === '_lastUpdated') where.push(dateCondition('r.last_updated', 'r.last_updated', value, '_lastUpdated'));
      else {
        const param = paramFor(resourceType, name);
        if (!param || (modifier && !(param.type === 'reference' && /^[A-Z]/.test(modifier)))) {
          throw new OperationOutcomeError(badRequest(`Unsupported search parameter '${key}' for ${resourceType}; see GET /fhir/metadata for the supported ones`, key), 400);
        }
        where.push(table.condition(param, key, modifier, value));
      }
    }
  }
  return { query: { table: table.table, alias: 'r', where: and(...where), orderBy: order, limit: count, offset }, total, includes };
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

function sortOrder(value: string): string {
  if (value === '_lastUpdated') return 'r.last_updated ASC, r.id';
  if (value === '-_lastUpdated') return 'r.last_updated DESC, r.id';
  throw new OperationOutcomeError(badRequest(`Unsupported _sort '${value}': use _lastUpdated or -_lastUpdated`, '_sort'), 400);
}
