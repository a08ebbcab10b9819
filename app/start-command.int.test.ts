/**
 * `forlop start` (what `npm start` runs) as a real process: it brings up the
 * embedded Temporal server, the dev IdP, the FHIR API and the pathway
 * worker, answers on /fhir/metadata, and stops cleanly (exit 0) on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

jest.setTimeout(90_000);

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

it('starts every component, enrols a family written through the API, and exits 0 on SIGTERM', async () => {
  const [httpPort, temporalPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'bin', 'forlop.js'), 'start'], {
    env: { ...process.env, FORLOP_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'forlop-start-')), FORLOP_HTTP_PORT: String(httpPort), FORLOP_EMBEDDED_TEMPORAL_PORT: String(temporalPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 300 && !output.includes('pathway worker running'); i++) await new Promise((r) => setTimeout(r, 100));
  expect(output).toContain('pathway worker running');
  const metadata = await fetch(`http://127.0.0.1:${httpPort}/fhir/metadata`);
  expect(metadata.status).toBe(200);
  expect(((await metadata.json()) as { resourceType: string }).resourceType).toBe('CapabilityStatement');
  // The whole path: API -> store -> change feed -> event router -> workflow -> activity -> CarePlan.
  const issuer = (JSON.parse(output.split('\n').find((l) => l.includes('development OIDC provider running'))!) as { issuer: string }).issuer;
  const tokenResponse = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('helsestasjon-secret:dev-secret-helsestasjon').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/Patient.cruds system/EpisodeOfCare.cruds system/CarePlan.rs', resource: 'urn:forlop:api' }),
  });
  const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
  const api = `http://127.0.0.1:${httpPort}/fhir`;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };
  const mother = (await (await fetch(`${api}/Patient`, { method: 'POST', headers, body: JSON.stringify({ resourceType: 'Patient', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } }) })).json()) as { id: string };
  const today = new Date().toISOString().slice(0, 10);
  const episode = await fetch(`${api}/EpisodeOfCare`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      resourceType: 'EpisodeOfCare',
      status: 'active',
      type: [{ coding: [{ system: 'https://forlop.no/fhir/CodeSystem/pathway', code: 'Basisprogram' }] }],
      patient: { reference: `Patient/${mother.id}` },
      managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' },
      period: { start: today },
      extension: [{ url: 'https://forlop.no/fhir/StructureDefinition/estimated-due-date', valueDate: new Date(Date.now() + 150 * 86_400_000).toISOString().slice(0, 10) }],
    }),
  });
  expect(episode.status).toBe(201);
  let carePlans: { total?: number; entry?: { resource: { instantiatesCanonical?: string[] } }[] } = {};
  for (let i = 0; i < 100 && !carePlans.entry?.length; i++) {
    await new Promise((r) => setTimeout(r, 200));
    carePlans = (await (await fetch(`${api}/CarePlan?subject=Patient/${mother.id}`, { headers })).json()) as typeof carePlans;
  }
  expect(carePlans.entry?.[0]?.resource.instantiatesCanonical).toEqual(['https://forlop.no/fhir/PlanDefinition/basis|1.0.0']);

  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(output).not.toContain('did not stop cleanly');
});
