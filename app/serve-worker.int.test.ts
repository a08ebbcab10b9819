/**
 * The production split on one machine: `forlop temporal` (standing in for a
 * Temporal cluster), `forlop worker` and `forlop serve` as three processes,
 * sharing one configuration and a PostgreSQL server. A family enrolled
 * through the API gets its CarePlan from the worker. Runs where a
 * PostgreSQL server is given (FORLOP_TEST_STACK_DATABASE_URL; .ci/run
 * starts one): two processes cannot share a PGlite directory.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { awaitCarePlans, enrolThroughApi, freePort, helsestasjonHeaders, spawnForlop as forlop, until } from '../test/support/processes';

jest.setTimeout(120_000);

const databaseUrl = process.env.FORLOP_TEST_STACK_DATABASE_URL;
(databaseUrl ? it : it.skip)('forlop serve and forlop worker run apart and together carry a family', async () => {
  const pool = new pg.Pool({ connectionString: databaseUrl });
  await pool.query('DROP SCHEMA IF EXISTS fhir CASCADE');
  await pool.end();
  const [temporalPort, httpPort] = [await freePort(), await freePort()];
  const env = {
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    DATABASE_URL: databaseUrl!,
    FORLOP_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'forlop-stack-')),
    FORLOP_HTTP_PORT: String(httpPort),
  };
  const temporal = forlop(['temporal', '--port', String(temporalPort)], {});
  await until(() => temporal.output().includes('listening'), 'the Temporal server');
  const worker = forlop(['worker'], env);
  const serve = forlop(['serve'], env);
  try {
    await until(() => worker.output().includes('pathway worker running'), 'the worker');
    await until(() => serve.output().includes('following the FHIR change feed'), 'the server');
    const api = `http://127.0.0.1:${httpPort}/fhir`;
    const headers = await helsestasjonHeaders(serve.output());
    const { motherId, episodeStatus } = await enrolThroughApi(api, headers);
    expect(episodeStatus).toBe(201);
    const total = (await awaitCarePlans(api, headers, motherId)).length;
    expect(total).toBe(1);
  } finally {
    for (const p of [serve, worker, temporal]) p.child.kill('SIGTERM');
  }
  expect(await serve.exited).toBe(0);
  expect(await worker.exited).toBe(0);
});

it('refuses to run serve or worker without a Temporal frontend, saying what to set', async () => {
  const run = forlop(['worker'], { TEMPORAL_ADDRESS: '' });
  expect(await run.exited).toBe(2);
  expect(run.output()).toContain('forlop worker connects to a Temporal frontend: set TEMPORAL_ADDRESS (host:port), or run everything on one machine with forlop start');
});
