/**
 * The production split on one machine: `forlop temporal` (standing in for a
 * Temporal cluster), `forlop worker` and `forlop serve` as three processes,
 * sharing one configuration and a PostgreSQL server. A family enrolled
 * through the API gets its CarePlan from the worker. Runs where a
 * PostgreSQL server is given (FORLOP_TEST_STACK_DATABASE_URL; .ci/run
 * starts one): two processes cannot share a PGlite directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

jest.setTimeout(120_000);

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

function forlop(args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'bin', 'forlop.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  return { child, output: () => output, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

async function until(check: () => boolean | Promise<boolean>, what: string) {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

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
    await until(() => serve.output().includes('event router following'), 'the server');
    const issuer = (JSON.parse(serve.output().split('\n').find((l) => l.includes('development OIDC provider running'))!) as { issuer: string }).issuer;
    const tokenResponse = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('helsestasjon-secret:dev-secret-helsestasjon').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/Patient.cruds system/EpisodeOfCare.cruds system/CarePlan.rs', resource: 'urn:forlop:api' }),
    });
    const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
    const api = `http://127.0.0.1:${httpPort}/fhir`;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };
    const mother = (await (await fetch(`${api}/Patient`, { method: 'POST', headers, body: JSON.stringify({ resourceType: 'Patient', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } }) })).json()) as { id: string };
    const episode = await fetch(`${api}/EpisodeOfCare`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        resourceType: 'EpisodeOfCare',
        status: 'active',
        type: [{ coding: [{ system: 'https://forlop.no/fhir/CodeSystem/pathway', code: 'Basisprogram' }] }],
        patient: { reference: `Patient/${mother.id}` },
        managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' },
        period: { start: new Date().toISOString().slice(0, 10) },
        extension: [{ url: 'https://forlop.no/fhir/StructureDefinition/estimated-due-date', valueDate: new Date(Date.now() + 150 * 86_400_000).toISOString().slice(0, 10) }],
      }),
    });
    expect(episode.status).toBe(201);
    let total = 0;
    await until(async () => {
      const bundle = (await (await fetch(`${api}/CarePlan?subject=Patient/${mother.id}`, { headers })).json()) as { entry?: unknown[] };
      total = bundle.entry?.length ?? 0;
      return total > 0;
    }, 'the CarePlan written by the worker');
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
