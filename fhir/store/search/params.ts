/**
 * One function per search parameter type (https://hl7.org/fhir/R4/search.html#ptypes):
 * each turns one search value into a condition on the columns that hold the
 * parameter's values. Where those columns are (an index table row, or a
 * column of AuditEvent's own table) is the caller's (tables.ts).
 */
import { badRequest, OperationOutcomeError } from '../../outcome';
import { dateRange } from '../indexing';
import { and, compare, type Condition, isNull, not, or } from '../sql';

/** A token value (code, system|code, system| or |code, comma-separated alternatives) against a system and a code column. */
export function tokenCondition(value: string, systemColumn: string, codeColumn: string): Condition {
  return or(
    ...value.split(',').map((v) => {
      const bar = v.indexOf('|');
      if (bar < 0) return compare(codeColumn, '=', v);
      const system = v.slice(0, bar);
      const code = v.slice(bar + 1);
      if (!code) return compare(systemColumn, '=', system);
      return system ? and(compare(systemColumn, '=', system), compare(codeColumn, '=', code)) : and(isNull(systemColumn), compare(codeColumn, '=', code));
    }),
  );
}

/** A reference value's targets: comma-separated, a bare id qualified by the :Type modifier. */
export function referenceTargets(value: string, modifier: string | undefined): string[] {
  return value.split(',').map((v) => (modifier && !v.includes('/') ? `${modifier}/${v}` : v));
}

/** A reference value against a column of one target each. */
export function referenceCondition(value: string, modifier: string | undefined, column: string): Condition {
  return compare(column, '= ANY', referenceTargets(value, modifier));
}

/** A reference value against an array column of targets (any in common). */
export function referenceArrayCondition(value: string, modifier: string | undefined, column: string): Condition {
  return compare(column, '&&', referenceTargets(value, modifier), 'text[]');
}

/**
 * A date value with FHIR prefixes (eq ne lt gt le ge sa eb; ap is treated
 * as eq): the stored range [low, high] against the searched range.
 */
export function dateCondition(low: string, high: string, value: string, name: string): Condition {
  const m = /^(eq|ne|lt|gt|le|ge|sa|eb|ap)?(.+)$/.exec(value)!;
  const prefix = m[1] ?? 'eq';
  const range = dateRange(m[2]);
  if (!range) throw new OperationOutcomeError(badRequest(`Invalid date '${m[2]}' for ${name}: use YYYY, YYYY-MM, YYYY-MM-DD or a dateTime, optionally prefixed by eq, ne, lt, gt, le, ge, sa, eb`, name), 400);
  // Only the bounds a prefix uses become parameters: PostgreSQL refuses unused ones.
  const within = and(compare(low, '>=', range.low, 'timestamptz'), compare(high, '<=', range.high, 'timestamptz'));
  switch (prefix) {
    case 'ne':
      return not(within);
    case 'lt':
      return compare(low, '<', range.low, 'timestamptz');
    case 'le':
      return compare(low, '<=', range.high, 'timestamptz');
    case 'gt':
      return compare(high, '>', range.high, 'timestamptz');
    case 'ge':
      return compare(high, '>=', range.low, 'timestamptz');
    case 'sa':
      return compare(low, '>', range.high, 'timestamptz');
    case 'eb':
      return compare(high, '<', range.low, 'timestamptz');
    default:
      return within;
  }
}
