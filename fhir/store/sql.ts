/**
 * SQL conditions as objects, rendered by one builder with numbered
 * parameters ($1, $2, ...), after Medplum's packages/server/src/fhir/sql.ts:
 * search code composes conditions and never concatenates SQL itself, so a
 * value can only ever reach the database as a parameter.
 */

/** A column (or SQL expression written by this code, never from a request) compared with a value. */
export interface Compare {
  kind: 'compare';
  column: string;
  operator: '=' | '<' | '<=' | '>' | '>=' | '= ANY' | '&&';
  value: unknown;
  /** A cast applied to the parameter ("timestamptz", "text[]"). */
  cast?: string;
}
export interface IsNull { kind: 'is-null'; column: string }
export interface Conjunction { kind: 'and'; parts: Condition[] }
export interface Disjunction { kind: 'or'; parts: Condition[] }
export interface Negation { kind: 'not'; part: Condition }
/** EXISTS (SELECT 1 FROM table alias WHERE correlation AND where): an index table row for the outer row. */
export interface Exists { kind: 'exists'; table: string; alias: string; correlation: string; where: Condition }
/** A fixed piece of SQL written by this code (a join condition, TRUE), never from a request. */
export interface Fixed { kind: 'fixed'; sql: string }
/** SQL written by this code around parameters it adds through the builder (a subquery); it must be one term (parenthesised, EXISTS ...), as it is not grouped. */
export interface Raw { kind: 'raw'; render: (sql: SqlBuilder) => string }

export type Condition = Compare | IsNull | Conjunction | Disjunction | Negation | Exists | Fixed | Raw;

export const compare = (column: string, operator: Compare['operator'], value: unknown, cast?: string): Compare => ({ kind: 'compare', column, operator, value, cast });
export const isNull = (column: string): IsNull => ({ kind: 'is-null', column });
export const and = (...parts: Condition[]): Conjunction => ({ kind: 'and', parts });
export const or = (...parts: Condition[]): Disjunction => ({ kind: 'or', parts });
export const not = (part: Condition): Negation => ({ kind: 'not', part });
export const exists = (table: string, alias: string, correlation: string, where: Condition): Exists => ({ kind: 'exists', table, alias, correlation, where });
export const fixed = (sql: string): Fixed => ({ kind: 'fixed', sql });
export const raw = (render: (sql: SqlBuilder) => string): Raw => ({ kind: 'raw', render });

/** Collects the parameters of one statement as conditions are rendered into it. */
export class SqlBuilder {
  readonly values: unknown[] = [];

  param(value: unknown, cast?: string): string {
    this.values.push(value);
    return `$${this.values.length}${cast ? `::${cast}` : ''}`;
  }

  render(condition: Condition): string {
    switch (condition.kind) {
      case 'compare':
        if (condition.operator === '= ANY') return `${condition.column} = ANY(${this.param(condition.value, condition.cast)})`;
        return `${condition.column} ${condition.operator} ${this.param(condition.value, condition.cast)}`;
      case 'is-null':
        return `${condition.column} IS NULL`;
      case 'and':
        return condition.parts.length === 0 ? 'TRUE' : condition.parts.map((p) => this.group(p)).join(' AND ');
      case 'or':
        return condition.parts.length === 0 ? 'FALSE' : condition.parts.map((p) => this.group(p)).join(' OR ');
      case 'not':
        return `NOT ${this.group(condition.part)}`;
      case 'exists':
        return `EXISTS (SELECT 1 FROM ${condition.table} ${condition.alias} WHERE ${condition.correlation} AND ${this.group(condition.where)})`;
      case 'fixed':
        return condition.sql;
      case 'raw':
        return condition.render(this);
    }
  }

  /** A condition as an operand of AND, OR or NOT: parenthesised unless it is one term. */
  private group(condition: Condition): string {
    const sql = this.render(condition);
    const single = condition.kind === 'compare' || condition.kind === 'is-null' || condition.kind === 'exists' || condition.kind === 'fixed' || condition.kind === 'not' || condition.kind === 'raw';
    return single || ((condition.kind === 'and' || condition.kind === 'or') && condition.parts.length <= 1) ? sql : `(${sql})`;
  }
}

/** A SELECT over one table: rendered for a page of rows, or for their count. */
export interface SelectQuery {
  table: string;
  alias: string;
  where: Condition;
  orderBy: string;
  limit: number;
  offset: number;
}

/** The page: `extra` is appended to the select list (the store's write generation column). */
export function renderPage(query: SelectQuery, extra = ''): { text: string; values: unknown[] } {
  const sql = new SqlBuilder();
  const where = sql.render(query.where);
  return { text: `SELECT ${query.alias}.content${extra} FROM ${query.table} ${query.alias} WHERE ${where} ORDER BY ${query.orderBy} LIMIT ${query.limit} OFFSET ${query.offset}`, values: sql.values };
}

export function renderCount(query: SelectQuery): { text: string; values: unknown[] } {
  const sql = new SqlBuilder();
  const where = sql.render(query.where);
  return { text: `SELECT count(*)::int AS n FROM ${query.table} ${query.alias} WHERE ${where}`, values: sql.values };
}
