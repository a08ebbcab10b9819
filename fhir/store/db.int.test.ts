/**
 * PGlite in a data directory serves one process: a second opening is
 * refused (PGlite would run a second PostgreSQL on the same files), a lock
 * left by a process that is gone is taken over. On a PostgreSQL server
 * (FORLOP_TEST_DATABASE_URL), statements marked prepared stay prepared.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openPglite, openPostgres } from './db';

it('refuses a data directory another process or this one has open, and takes over a stale lock', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'forlop-lock-'));
  const db = await openPglite(dir);
  expect(readFileSync(path.join(dir, 'forlop.lock'), 'utf8')).toBe(String(process.pid));
  await expect(openPglite(dir)).rejects.toThrow(`The PGlite data directory ${dir} is already open in this process`);
  await db.query('CREATE TABLE kept (x int)');
  await db.close();

  // A live process holds it (the parent of this one stands in for another forlop).
  writeFileSync(path.join(dir, 'forlop.lock'), String(process.ppid));
  await expect(openPglite(dir)).rejects.toThrow(`is already open in process ${process.ppid}`);

  // A process that has exited left its lock behind.
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  writeFileSync(path.join(dir, 'forlop.lock'), gone);
  const again = await openPglite(dir);
  expect((await again.query('SELECT count(*)::int AS n FROM kept')).rows).toEqual([{ n: 0 }]);
  await again.close();
});

const serverUrl = process.env.FORLOP_TEST_DATABASE_URL;
if (serverUrl) {
  it('keeps a statement marked prepared parsed on a PostgreSQL connection, and only that one', async () => {
    const db = await openPostgres(serverUrl);
    // One transaction: one connection of the pool, whose prepared statements the server lists.
    const prepared = await db.transaction(async (tx) => {
      for (const n of [1, 2]) expect((await tx.query('SELECT $1::int AS n', [n], { prepared: true })).rows).toEqual([{ n }]);
      await tx.query('SELECT $1::int + 1 AS n', [1]);
      return (await tx.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements')).rows.map((r) => r.statement);
    });
    expect(prepared).toEqual(['SELECT $1::int AS n']);
    await db.close();
  });
}
