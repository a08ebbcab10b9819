/**
 * `forlop start` (what `npm start` runs) as a real process: it brings up the
 * embedded Temporal server, the dev IdP, the FHIR API, the pathway worker
 * and the event router, enrols a family written through the API, and stops
 * cleanly (exit 0) on SIGTERM.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { awaitCarePlans, enrolThroughApi, freePort, helsestasjonHeaders, spawnForlop, until } from '../test/support/processes';

jest.setTimeout(90_000);

it('starts every component, enrols a family written through the API, and exits 0 on SIGTERM', async () => {
  const [httpPort, temporalPort] = [await freePort(), await freePort()];
  const start = spawnForlop(['start'], { FORLOP_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'forlop-start-')), FORLOP_HTTP_PORT: String(httpPort), FORLOP_EMBEDDED_TEMPORAL_PORT: String(temporalPort) });
  await until(() => start.output().includes('pathway worker running'), 'the worker').catch(() => undefined);
  expect(start.output()).toContain('pathway worker running');
  const metadata = await fetch(`http://127.0.0.1:${httpPort}/fhir/metadata`);
  expect(metadata.status).toBe(200);
  expect(((await metadata.json()) as { resourceType: string }).resourceType).toBe('CapabilityStatement');
  // The whole path: API -> store -> change feed -> event router -> workflow -> activity -> CarePlan.
  const api = `http://127.0.0.1:${httpPort}/fhir`;
  const headers = await helsestasjonHeaders(start.output());
  const { motherId, episodeStatus } = await enrolThroughApi(api, headers);
  expect(episodeStatus).toBe(201);
  const carePlans = await awaitCarePlans(api, headers, motherId);
  expect(carePlans[0]?.resource.instantiatesCanonical).toEqual(['https://forlop.no/fhir/PlanDefinition/basis|1.1.0']);

  start.child.kill('SIGTERM');
  expect(await start.exited).toBe(0);
  expect(start.output()).not.toContain('did not stop cleanly');
});
