/**
 * A subset of Temporal's visibility list query language
 * (docs.temporal.io/list-filter), evaluated in memory:
 *
 *   WorkflowType = 'x' AND (ExecutionStatus = 'Running' OR StartTime > '2026-01-01T00:00:00Z')
 *   CustomKeywordField IN ('a', 'b') AND CustomIntField BETWEEN 1 AND 5
 *   ... ORDER BY StartTime DESC
 *
 * Fields: WorkflowType, WorkflowId, RunId, ExecutionStatus, StartTime,
 * CloseTime, ExecutionTime, TaskQueue, and registered custom search
 * attributes (Keyword, Text, Int, Double, Bool, Datetime, KeywordList).
 * Operators: = != > >= < <= IN, NOT IN, BETWEEN x AND y, STARTS_WITH,
 * IS NULL, IS NOT NULL; AND, OR, parentheses; ORDER BY one field ASC|DESC.
 */
import { invalidArgument } from './errors';

export type Value = string | number | boolean | null | string[];
export type Row = (field: string) => Value | undefined;

type Expr =
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'cmp'; field: string; op: string; values: Value[] };

export interface ParsedQuery {
  where?: Expr;
  orderBy?: { field: string; desc: boolean };
}

const STATUS_NAMES: Record<string, number> = { Running: 1, Completed: 2, Failed: 3, Canceled: 4, Terminated: 5, ContinuedAsNew: 6, TimedOut: 7 };

function tokenize(query: string): string[] {
  const tokens: string[] = [];
  const re = /\s*(?:('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(>=|<=|!=|<>|=|<|>|\(|\)|,)|([A-Za-z_][A-Za-z0-9_.]*|-?\d+(?:\.\d+)?))/y;
  let pos = 0;
  while (pos < query.length) {
    if (/^\s*$/.test(query.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(query);
    if (!m) throw invalidArgument(`invalid query: unexpected text at position ${pos}: '${query.slice(pos, pos + 20)}'`);
    tokens.push(m[1] ?? m[2] ?? m[3]);
    pos = re.lastIndex;
  }
  return tokens;
}

export function parseQuery(query: string | undefined, knownField: (name: string) => boolean): ParsedQuery {
  const tokens = tokenize(query ?? '');
  let i = 0;
  const peek = () => tokens[i];
  const upper = () => tokens[i]?.toUpperCase();
  const expect = (t: string) => {
    if (upper() !== t) throw invalidArgument(`invalid query: expected ${t} but found '${tokens[i] ?? 'end of query'}'`);
    i++;
  };
  const literal = (): Value => {
    const t = tokens[i++];
    if (t === undefined) throw invalidArgument('invalid query: a value is missing at the end');
    if (/^['"]/.test(t)) return t.slice(1, -1).replace(/\\(.)/g, '$1');
    if (/^-?\d/.test(t)) return Number(t);
    if (t.toLowerCase() === 'true') return true;
    if (t.toLowerCase() === 'false') return false;
    throw invalidArgument(`invalid query: '${t}' is not a value; quote strings and dates ('...')`);
  };
  const comparison = (): Expr => {
    if (peek() === '(') {
      i++;
      const e = or();
      expect(')');
      return e;
    }
    const field = tokens[i++];
    if (!field || !/^[A-Za-z_]/.test(field)) throw invalidArgument(`invalid query: expected a field name but found '${field ?? 'end of query'}'`);
    if (!knownField(field)) throw invalidArgument(`invalid query: unknown search attribute ${field}`);
    const op = upper();
    if (op === 'IN' || op === 'NOT') {
      const negate = op === 'NOT';
      i++;
      if (negate) expect('IN');
      expect('(');
      const values = [literal()];
      while (peek() === ',') {
        i++;
        values.push(literal());
      }
      expect(')');
      return { kind: 'cmp', field, op: negate ? 'NOT IN' : 'IN', values };
    }
    if (op === 'BETWEEN') {
      i++;
      const low = literal();
      expect('AND');
      return { kind: 'cmp', field, op: 'BETWEEN', values: [low, literal()] };
    }
    if (op === 'STARTS_WITH') {
      i++;
      return { kind: 'cmp', field, op, values: [literal()] };
    }
    if (op === 'IS') {
      i++;
      const not = upper() === 'NOT';
      if (not) i++;
      expect('NULL');
      return { kind: 'cmp', field, op: not ? 'IS NOT NULL' : 'IS NULL', values: [] };
    }
    if (!['=', '!=', '<>', '<', '<=', '>', '>='].includes(op ?? '')) throw invalidArgument(`invalid query: unsupported operator '${tokens[i] ?? 'end of query'}' after ${field}`);
    i++;
    return { kind: 'cmp', field, op: op === '<>' ? '!=' : op!, values: [literal()] };
  };
  const and = (): Expr => {
    let left = comparison();
    while (upper() === 'AND') {
      i++;
      left = { kind: 'and', left, right: comparison() };
    }
    return left;
  };
  const or = (): Expr => {
    let left = and();
    while (upper() === 'OR') {
      i++;
      left = { kind: 'or', left, right: and() };
    }
    return left;
  };
  const result: ParsedQuery = {};
  if (i < tokens.length && upper() !== 'ORDER') result.where = or();
  if (upper() === 'ORDER') {
    i++;
    expect('BY');
    const field = tokens[i++];
    if (!field || !knownField(field)) throw invalidArgument(`invalid query: cannot order by '${field ?? ''}'`);
    let desc = false;
    if (upper() === 'ASC' || upper() === 'DESC') desc = tokens[i++].toUpperCase() === 'DESC';
    result.orderBy = { field, desc };
  }
  if (i < tokens.length) throw invalidArgument(`invalid query: unexpected '${tokens[i]}'`);
  return result;
}

function normalise(field: string, value: Value): Value {
  if (field === 'ExecutionStatus' && typeof value === 'string') {
    const status = STATUS_NAMES[value];
    if (status === undefined) throw invalidArgument(`invalid query: ExecutionStatus '${value}' is not one of ${Object.keys(STATUS_NAMES).join(', ')}`);
    return status;
  }
  return value;
}

function compare(a: Value, b: Value): number {
  if (typeof a === 'number' && typeof b === 'string' && !Number.isNaN(Date.parse(b))) return a - Date.parse(b);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

export function matches(expr: Expr | undefined, row: Row): boolean {
  if (!expr) return true;
  if (expr.kind !== 'cmp') return expr.kind === 'and' ? matches(expr.left, row) && matches(expr.right, row) : matches(expr.left, row) || matches(expr.right, row);
  const actual = row(expr.field);
  const values = expr.values.map((v) => normalise(expr.field, v));
  if (expr.op === 'IS NULL') return actual === undefined || actual === null;
  if (expr.op === 'IS NOT NULL') return actual !== undefined && actual !== null;
  if (actual === undefined || actual === null) return expr.op === '!=' || expr.op === 'NOT IN';
  const list = Array.isArray(actual) ? actual : [actual];
  const any = (pred: (v: Value) => boolean) => list.some(pred);
  switch (expr.op) {
    case '=':
      return any((v) => compare(v, values[0]) === 0);
    case '!=':
      return !any((v) => compare(v, values[0]) === 0);
    case '<':
      return any((v) => compare(v, values[0]) < 0);
    case '<=':
      return any((v) => compare(v, values[0]) <= 0);
    case '>':
      return any((v) => compare(v, values[0]) > 0);
    case '>=':
      return any((v) => compare(v, values[0]) >= 0);
    case 'IN':
      return any((v) => values.some((w) => compare(v, w) === 0));
    case 'NOT IN':
      return !any((v) => values.some((w) => compare(v, w) === 0));
    case 'BETWEEN':
      return any((v) => compare(v, values[0]) >= 0 && compare(v, values[1]) <= 0);
    case 'STARTS_WITH':
      return any((v) => String(v).startsWith(String(values[0])));
  }
  return false;
}

export function sortValue(row: Row, field: string): number | string {
  const v = row(field);
  if (typeof v === 'number') return v;
  return v === undefined || v === null ? '' : String(v);
}
