/**
 * Killed in the middle, nothing lost (issue #21, item 1): `forlop start` as a
 * real process, on a data directory whose FHIR store already holds an
 * enrolment the router can never deliver (stored before the write-time check
 * existed). Five families are enrolled through the API and the process is
 * killed (SIGKILL) as soon as the last write is answered, while the router is
 * still passing the changes on. Started again on the same directory, every
 * family gets its CarePlan, and the bad enrolment is listed as failed once
 * (GET /api/failed-events), not lost and not twice.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EpisodeOfCare } from '@medplum/fhirtypes';
import type { FailedEvent } from '../../events/failed-events';
import { DUE_DATE_EXTENSION, PATHWAY_TYPE_SYSTEM } from '../../events/map-resource';
import { FhirStore, openPglite } from '../../fhir/store';
import { awaitCarePlans, enrolThroughApi, freePort, helsestasjonHeaders, spawnForlop, until, type ForlopProcess } from '../support/processes';

jest.setTimeout(240_000);

const issuerOf = (output: string) => (JSON.parse(output.split('\n').find((l) => l.includes('development OIDC provider running'))!) as { issuer: string }).issuer;

async function koordinatorHeaders(output: string): Promise<Record<string, string>> {
  const response = await fetch(`${issuerOf(output)}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('koordinator-secret:dev-secret-koordinator').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/*.rs', resource: 'urn:forlop:api' }),
  });
  const { access_token: token } = (await response.json()) as { access_token: string };
  return { authorization: `Bearer ${token}` };
}

let running: ForlopProcess | undefined;
afterAll(async () => {
  running?.child.kill('SIGKILL');
  await running?.exited;
});

it('loses nothing when the server is killed while the router passes changes on, and lists the poison change once', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'forlop-failed-restart-'));
  const seeded = await FhirStore.open(await openPglite(path.join(dataDir, 'fhir')));
  const poison = await seeded.create<EpisodeOfCare>({
    resourceType: 'EpisodeOfCare',
    status: 'active',
    type: [{ coding: [{ system: PATHWAY_TYPE_SYSTEM, code: 'Basis' }] }],
    patient: { reference: 'Patient/seeded-mother' },
    managingOrganization: { reference: 'Organization/sarpsborg-kommune' },
    period: { start: new Date().toISOString().slice(0, 10) },
    extension: [{ url: DUE_DATE_EXTENSION, valueDate: new Date(Date.now() + 150 * 86_400_000).toISOString().slice(0, 10) }],
  });
  await seeded.close();

  const [httpPort, temporalPort] = [await freePort(), await freePort()];
  const env = { FORLOP_DATA_DIR: dataDir, FORLOP_HTTP_PORT: String(httpPort), FORLOP_EMBEDDED_TEMPORAL_PORT: String(temporalPort), FORLOP_DEV_IDP_PORT: '0' };
  const api = `http://127.0.0.1:${httpPort}/fhir`;
  const start = async () => {
    running = spawnForlop(['start'], env);
    await until(() => running!.output().includes('event router and subscription notifier following'), 'forlop start', 100, 90_000);
    return running;
  };

  let forlop = await start();
  let headers = await helsestasjonHeaders(forlop.output(), 'system/Patient.cruds system/EpisodeOfCare.cruds system/CarePlan.rs');
  const families: string[] = [];
  for (let i = 0; i < 5; i++) {
    const { motherId, episodeStatus } = await enrolThroughApi(api, headers);
    expect(episodeStatus).toBe(201);
    families.push(motherId);
  }
  forlop.child.kill('SIGKILL');
  await forlop.exited;

  forlop = await start();
  headers = await helsestasjonHeaders(forlop.output(), 'system/Patient.cruds system/EpisodeOfCare.cruds system/CarePlan.rs');
  for (const mother of families) expect(await awaitCarePlans(api, headers, mother)).toHaveLength(1);
  const koordinator = await koordinatorHeaders(forlop.output());
  let failed: FailedEvent[] = [];
  await until(async () => {
    failed = ((await (await fetch(`http://127.0.0.1:${httpPort}/api/failed-events`, { headers: koordinator })).json()) as { failedEvents: FailedEvent[] }).failedEvents;
    return failed.length > 0;
  }, 'the failed event');
  expect(failed).toEqual([expect.objectContaining({ resource: `EpisodeOfCare/${poison.id}/_history/1`, cause: 'unknown-definition', state: 'failed' })]);

  forlop.child.kill('SIGTERM');
  expect(await forlop.exited).toBe(0);
  running = undefined;
});
