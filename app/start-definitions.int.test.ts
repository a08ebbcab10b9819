/**
 * `forlop start` with a deployment's own definitions (FORLOP_PATHWAYS_DIR):
 * a directory with a problem refuses the start with validate's
 * file:line:column lines; a good one lets a family be enrolled on a local
 * variant through the API.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { awaitCarePlans, enrolThroughApi, freePort, helsestasjonHeaders, spawnForlop, until } from '../test/support/processes';

jest.setTimeout(150_000);

const LOCAL = path.join(__dirname, '..', 'test', 'pathway', 'local-definitions');
const dataDir = () => mkdtempSync(path.join(tmpdir(), 'forlop-start-'));

it('refuses to start when a definition in the directory has a problem, with the file, line and column', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'forlop-pathways-'));
  const bad = path.join(dir, 'local.yaml');
  writeFileSync(bad, 'url: https://example.org/p\nversion: 1.0.0\nname: Local\ntitle: Local\nstatus: draft\nextends: https://forlop.no/fhir/PlanDefinition/basis|1.0.0\nremove: [hs-8mo]\n');
  const start = spawnForlop(['start'], { FORLOP_DATA_DIR: dataDir(), FORLOP_HTTP_PORT: String(await freePort()), FORLOP_EMBEDDED_TEMPORAL_PORT: String(await freePort()), FORLOP_PATHWAYS_DIR: dir });
  expect(await start.exited).toBe(1);
  expect(start.output()).toContain(`${bad}:7:10 /remove/0: 'hs-8mo' is not an entry of https://forlop.no/fhir/PlanDefinition/basis|1.0.0`);
  expect(start.output()).not.toContain('pathway worker running');
});

it('enrols a family on a local variant from the directory, newest version by name', async () => {
  const httpPort = await freePort();
  const start = spawnForlop(['start'], { FORLOP_DATA_DIR: dataDir(), FORLOP_HTTP_PORT: String(httpPort), FORLOP_EMBEDDED_TEMPORAL_PORT: String(await freePort()), FORLOP_PATHWAYS_DIR: LOCAL, FORLOP_TEMPORAL_STORAGE: 'memory' });
  try {
    await until(() => start.output().includes('pathway worker running'), 'the worker', 100, 75_000).catch(() => undefined);
    expect(start.output()).toContain('pathway worker running');
    expect(start.output()).toContain('local pathway definitions loaded');
    const api = `http://127.0.0.1:${httpPort}/fhir`;
    const headers = await helsestasjonHeaders(start.output());
    const { motherId, episodeStatus } = await enrolThroughApi(api, headers, 'LocalHelsestasjon');
    expect(episodeStatus).toBe(201);
    const carePlans = await awaitCarePlans(api, headers, motherId);
    expect(carePlans[0]?.resource.instantiatesCanonical).toEqual(['https://example.kommune.no/pathways/helsestasjon|1.0.1']);
  } finally {
    start.child.kill('SIGTERM');
    await start.exited;
  }
});
