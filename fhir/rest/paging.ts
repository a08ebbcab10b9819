/**
 * A search's page (https://hl7.org/fhir/R4/search.html#count and
 * http.html#paging): _count and _offset checked before the store sees them,
 * and the links a client pages with (self, first, previous, next, last).
 */
import { badRequest, OperationOutcomeError } from '../outcome';
import { prefer, type FhirRequest } from './request';

const PAGE_PARAMETERS = ['_count', '_offset'];

/**
 * The request's parameters with _count and _offset known to be whole numbers
 * (`_count=-1`, `abc` or `1e2` would otherwise read as "no results"). Strict
 * handling, the default, refuses a bad one with 400; `Prefer: handling=lenient`
 * (search.html#errors) drops it, so the default page is served.
 */
export function checkedPaging(req: FhirRequest): Record<string, string | string[]> {
  const query = { ...req.query };
  for (const name of PAGE_PARAMETERS) {
    const raw = query[name];
    if (raw === undefined) continue;
    const values = Array.isArray(raw) ? raw : [raw];
    if (values.length === 1 && /^\d{1,9}$/.test(values[0])) continue;
    if (prefer(req, 'handling') === 'lenient') {
      delete query[name];
      continue;
    }
    const why = values.length > 1 ? 'is given more than once' : `is '${values[0]}'`;
    throw new OperationOutcomeError(badRequest(`${name} ${why}: it must be one whole number of 0 or more (or send Prefer: handling=lenient to get the default page)`, name), 400);
  }
  return query;
}

export interface PageLink {
  relation: string;
  url: string;
}

/**
 * Offset paging links. first and previous always (when not on the first
 * page); next when the page was full; last only when the total is known,
 * as it then costs nothing. Offsets over a set that changes between pages
 * can skip or repeat a match, as on HAPI's offset paging (see docs/fhir-api.md).
 */
export function pageLinks(
  url: string,
  query: Record<string, string | string[]>,
  page: { offset: number; count: number; returned: number; /** The total the client is given. */ total?: number; /** The query's count of matches (those the caller may see), when counted. */ storedTotal?: number },
): PageLink[] {
  const self = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) for (const one of Array.isArray(v) ? v : [v]) self.append(k, one);
  const at = (offset: number) => {
    const params = new URLSearchParams(self);
    params.set('_offset', String(offset));
    return `${url}?${params}`;
  };
  const links: PageLink[] = [{ relation: 'self', url: `${url}?${self}` }];
  if (page.count === 0) return links;
  links.push({ relation: 'first', url: at(0) });
  if (page.offset > 0) links.push({ relation: 'previous', url: at(Math.max(0, page.offset - page.count)) });
  // Paging follows the matches the query found (those the caller may see):
  // a full page links on, unless the count says nothing follows.
  const more = page.storedTotal === undefined || page.offset + page.returned < page.storedTotal;
  if (page.returned === page.count && more) links.push({ relation: 'next', url: at(page.offset + page.count) });
  if (page.total !== undefined) links.push({ relation: 'last', url: at(page.total === 0 ? 0 : Math.floor((page.total - 1) / page.count) * page.count) });
  return links;
}
