/**
 * Transient failures (issue #21, item 1): while Temporal cannot be reached
 * (a real SDK client to a port where no server listens, without the SDK's own
 * gRPC retries, so each attempt fails at once), an enrolment is retried with
 * backoff, not recorded as failed, logged once rather than per attempt, and
 * the checkpoint stays before it, so a router that can reach Temporal (here,
 * as after a restart) delivers it. Real components otherwise: the embedded
 * Temporal server and SDK client, the store on PGlite.
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { EpisodeOfCare } from '@medplum/fhirtypes';
import { FailedEvents } from '../../events/failed-events';
import { DUE_DATE_EXTENSION, PATHWAY_TYPE_SYSTEM } from '../../events/map-resource';
import { EventRouter, familyIdOf } from '../../events/router';
import { FhirStore, openPglite } from '../../fhir/store';
import { DefinitionRegistry } from '../../pathways/registry';
import { createTestEnvironment, type EmbeddedTestEnvironment } from '../../temporal/embedded/test-env';
import { familyWorkflowId } from '../../workflows/messages';
import { freePort } from '../support/processes';
import { morningOf } from '../support/time';

Runtime.install({ logger: new DefaultLogger('WARN') });
jest.setTimeout(120_000);

let env: EmbeddedTestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment({ startTime: morningOf('2026-11-03') });
});
afterAll(() => env.teardown());

it('retries an enrolment with backoff while Temporal is unreachable, logs it once, records no failure, and a router that reaches Temporal delivers it', async () => {
  const db = await openPglite();
  const store = await FhirStore.open(db);
  const failed = new FailedEvents(db);
  const registry = DefinitionRegistry.builtIn();
  const logs: string[] = [];
  let now = Date.now();
  const unreachable = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${await freePort()}`, interceptors: [] }) });
  const router = new EventRouter({ store, failed, client: unreachable, taskQueue: 'transient', plans: registry, today: () => '2026-11-03', log: (msg) => logs.push(msg), now: () => now });
  const episode = await store.create<EpisodeOfCare>({
    resourceType: 'EpisodeOfCare',
    status: 'active',
    type: [{ coding: [{ system: PATHWAY_TYPE_SYSTEM, code: 'Basisprogram' }] }],
    patient: { reference: 'Patient/transient-mother' },
    managingOrganization: { reference: 'Organization/sarpsborg-kommune' },
    period: { start: '2026-11-03' },
    extension: [{ url: DUE_DATE_EXTENSION, valueDate: '2027-06-01' }],
  });

  await router.runOnce();
  // Not due again yet: no attempt is made (backoff).
  const attemptsLogged = logs.length;
  await router.runOnce();
  expect(logs.length).toBe(attemptsLogged);
  // Due again, many times over: attempted, still failing, still logged only once.
  for (let i = 0; i < 12; i++) {
    now += 60_000;
    await router.runOnce();
  }
  expect(logs.filter((l) => l.startsWith('event router: delivery failing'))).toHaveLength(1);
  expect(await failed.list(['failed', 'retry', 'delivered', 'superseded', 'dismissed'])).toEqual([]);
  expect(await store.checkpoint('pathway-router')).toBe(0);
  await unreachable.connection.close().catch(() => undefined);

  // Temporal reachable again (a router started anew, as after a restart): delivered.
  const restarted = new EventRouter({ store, failed, client: env.client, taskQueue: 'transient', plans: registry, today: () => '2026-11-03' });
  await restarted.runUntilCaughtUp();
  await expect(env.client.workflow.getHandle(familyWorkflowId(familyIdOf(episode.id!))).describe()).resolves.toBeDefined();
  await store.close();
});
