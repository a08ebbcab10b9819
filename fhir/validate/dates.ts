/**
 * Calendar checks of date, dateTime and instant values
 * (https://hl7.org/fhir/R4/datatypes.html#date: "a date, or partial date
 * ... valid dates only"). The JSON schema's regular expressions accept
 * 2023-02-29 and 2023-04-31; this refuses a day the month does not have.
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { issue } from '../outcome';

/** A FHIR date, dateTime or instant as a whole string: year, month and day, optionally a time. */
const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Why a date-like string is not a calendar date, or undefined when it is one (or is not date-like). */
export function calendarFault(value: string): string | undefined {
  const m = DATE.exec(value);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12) return `'${value}' has no month ${m[2]}`;
  if (day < 1 || day > daysIn(year, month)) return `'${value}' is not a calendar date: ${year}-${m[2]} has ${daysIn(year, month)} days`;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || (m[6] !== undefined && Number(m[6]) > 59))) return `'${value}' has no such time of day`;
  return undefined;
}

/** Every date-like string in the resource that is not a calendar date, at its path. Walks without recursion. */
export function dateIssues(resource: { resourceType: string }): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const stack: { value: unknown; path: string }[] = [{ value: resource, path: resource.resourceType }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (typeof value === 'string') {
      const fault = calendarFault(value);
      if (fault) issues.push(issue('value', `Invalid date: ${fault}`, path));
    } else if (Array.isArray(value)) value.forEach((item, i) => stack.push({ value: item, path: `${path}[${i}]` }));
    else if (value && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) stack.push({ value: item, path: `${path}.${key}` });
    }
  }
  return issues.reverse();
}
