/**
 * The database under the FHIR store: PGlite (PostgreSQL compiled to
 * WebAssembly, in a data directory or in memory) by default, a PostgreSQL
 * server through `DATABASE_URL`. Both run the same SQL.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

export interface Queryable {
  /**
   * With `prepared`, the statement's text is one of a few fixed ones that run
   * again and again: a PostgreSQL server keeps it parsed and planned on each
   * connection instead of doing both for every run (a read by id costs its
   * processes about 22 µs of CPU instead of 53). PGlite has no such cache.
   */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[], options?: { prepared?: boolean }): Promise<{ rows: R[] }>;
}

export interface Db extends Queryable {
  /**
   * This process is the database's only client (PGlite: one process opens a
   * data directory), so what it wrote is all that was written.
   */
  exclusive?: boolean;
  /** Runs `fn` in one transaction: all of it is committed, or none of it. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * PGlite serves one process: two opening the same data directory would each
 * run a PostgreSQL on the same files (PGlite does not refuse it), and the
 * FHIR store counts on being the only writer (Db.exclusive). A lock file
 * names the process that has it; one left by a process that is gone is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'forlop.lock');
  for (;;) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(file, 'utf8'));
    if (holder && isAlive(holder)) {
      throw new Error(
        `The PGlite data directory ${dataDir} is already open in ${holder === process.pid ? 'this process' : `process ${holder}`}; PGlite serves one process. Stop the other, or give every process the same PostgreSQL server (DATABASE_URL). (If that process is not a Forløp, remove ${file}.)`,
      );
    }
    rmSync(file, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function openPglite(dataDir?: string): Promise<Db> {
  const unlock = dataDir ? lockDataDir(dataDir) : () => undefined;
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir);
  } catch (error) {
    unlock();
    throw error;
  }
  // PGlite runs one statement at a time; a queue keeps transactions from interleaving.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => undefined);
    return next;
  };
  return {
    exclusive: true,
    query: (sql, params) => serial(() => db.query(sql, params)) as never,
    transaction: (fn) => serial(() => db.transaction((tx) => fn({ query: (sql, params) => tx.query(sql, params) as never }))),
    close: async () => {
      await db.close();
      unlock();
    },
  };
}

/** A prepared statement's name on every connection: one per text, so a name never stands for two. */
const statementNames = new Map<string, string>();
function statement(sql: string, params: unknown[] | undefined, options?: { prepared?: boolean }): pg.QueryConfig {
  if (!options?.prepared) return { text: sql, values: params };
  let name = statementNames.get(sql);
  if (!name) statementNames.set(sql, (name = `forlop_${statementNames.size + 1}`));
  return { name, text: sql, values: params };
}

export async function openPostgres(url: string): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  return {
    query: (sql, params, options) => pool.query(statement(sql, params, options)) as never,
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({ query: (sql, params, options) => client.query(statement(sql, params, options)) as never });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
