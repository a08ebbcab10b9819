/**
 * FHIR writes drive the workflows: resources stored in the FHIR store reach
 * the family's workflow through the change feed and the event router, in
 * order, once per resource version, and nothing is lost while the worker is
 * down. Real components: the embedded Temporal server (time skipping), the
 * SDK worker and client, the store on PGlite.
 */
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import type { CarePlan, EpisodeOfCare, Patient } from '@medplum/fhirtypes';
import { createPathwayActivities } from '../../activities/pathway-effects';
import { FailedEvents } from '../../events/failed-events';
import { EventRouter, familyIdOf } from '../../events/router';
import { DUE_DATE_EXTENSION, INSTRUMENT_ITEM_SYSTEM, PATHWAY_TYPE_SYSTEM } from '../../events/map-resource';
import { carePlanId } from '../../fhir/builders/pathway';
import { FhirStore, openPglite } from '../../fhir/store';
import { morningOf, sleepUntilDay } from '../support/time';
import { DefinitionRegistry } from '../../pathways/registry';
import { createTestEnvironment, type EmbeddedTestEnvironment } from '../../temporal/embedded/test-env';
import { createForlopWorker } from '../../temporal/worker';
import { familyWorkflowId, pathwayStateQuery } from '../../workflows/messages';

Runtime.install({ logger: new DefaultLogger('WARN') });
jest.setTimeout(120_000);

const registry = DefinitionRegistry.builtIn();
const taskQueue = 'router-test';
let env: EmbeddedTestEnvironment;
let store: FhirStore;
let worker: Worker | undefined;
let running: Promise<void> | undefined;
let today = '2026-11-03';
let router: EventRouter;

const startWorker = async () => {
  worker = await createForlopWorker({ connection: env.nativeConnection, taskQueue, activities: createPathwayActivities({ fhir: store, plans: registry }) });
  running = worker.run();
};
const stopWorker = async () => {
  worker?.shutdown();
  await running;
  worker = undefined;
};
const sleepUntil = async (date: string) => {
  today = await sleepUntilDay(env, date);
};
/** Lets the router pass on everything stored so far. */
const route = () => router.runUntilCaughtUp();

beforeAll(async () => {
  env = await createTestEnvironment({ startTime: morningOf('2026-11-03') });
  const db = await openPglite();
  store = await FhirStore.open(db);
  router = new EventRouter({ store, failed: new FailedEvents(db), client: env.client, taskQueue, plans: registry, today: () => today });
  await startWorker();
});
afterAll(async () => {
  await stopWorker();
  await env.teardown();
  await store.close();
});

it('enrols a family from an EpisodeOfCare, records contacts and screenings from Encounters and Observations, once per version, and keeps what arrives while the worker is down', async () => {
  const mother = await store.create<Patient>({ resourceType: 'Patient', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } });
  const episode = await store.create<EpisodeOfCare>({
    resourceType: 'EpisodeOfCare',
    status: 'active',
    type: [{ coding: [{ system: PATHWAY_TYPE_SYSTEM, code: 'Basisprogram' }] }],
    patient: { reference: `Patient/${mother.id}` },
    managingOrganization: { reference: 'Organization/sarpsborg-kommune' },
    careManager: { reference: 'Practitioner/coordinator-1' },
    period: { start: '2026-11-03' },
    extension: [{ url: DUE_DATE_EXTENSION, valueDate: '2027-06-01' }],
  });
  await route();
  const handle = env.client.workflow.getHandle(familyWorkflowId(familyIdOf(episode.id!)));
  expect((await handle.query(pathwayStateQuery)).anchors).toEqual({ enrolment: '2026-11-03', dueDate: '2027-06-01' });
  // The workflow id is derived from the EpisodeOfCare: nothing personal in it.
  expect(handle.workflowId).toMatch(/^family-[0-9a-f-]{36}$/);

  // The midwife records consultation 1 (its planned Encounter, finished).
  await sleepUntil('2026-11-10');
  const planned = (await store.search('Encounter', { subject: `Patient/${mother.id}`, _count: '100' })).resources.find((e) => (e as { identifier?: { value?: string }[] }).identifier?.[0]?.value?.endsWith('/preg-1'));
  expect(planned).toBeDefined();
  await store.update({ ...planned!, status: 'finished', period: { start: '2026-11-10T10:00:00+01:00' } } as never);
  await route();
  let state = await handle.query(pathwayStateQuery);
  expect(state.steps.find((s) => s.key === 'preg-1')).toMatchObject({ status: 'done', doneOn: '2026-11-10' });

  // The same changes delivered again (the router's checkpoint lost) change nothing.
  const timelineLength = state.timeline.length;
  await store.saveCheckpoint('pathway-router', 0);
  await route();
  state = await handle.query(pathwayStateQuery);
  expect(state.timeline.length).toBe(timelineLength);

  // The worker is down when an EPDS result is stored; the router passes it on; it is applied when the worker is back.
  await stopWorker();
  await store.create({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '99046-5' }] },
    subject: { reference: `Patient/${mother.id}` },
    effectiveDateTime: '2026-11-10',
    valueInteger: 14,
    component: [{ code: { coding: [{ system: INSTRUMENT_ITEM_SYSTEM, code: '10' }] }, valueInteger: 0 }],
  } as never);
  await route();
  await startWorker();
  await sleepUntil('2026-11-11');
  state = await handle.query(pathwayStateQuery);
  expect(state.handoffs).toEqual([expect.objectContaining({ handoff: 'mental-health-referral', status: 'requested', openedOn: '2026-11-10' })]);
  expect(state.steps.find((s) => s.step === 'epds-clinical-interview')).toMatchObject({ status: 'planned' });

  // The CarePlan the workflow keeps is where the family's systems see it.
  const carePlan = await store.read<CarePlan>('CarePlan', carePlanId(familyIdOf(episode.id!)));
  expect(carePlan.subject?.reference).toBe(`Patient/${mother.id}`);
});
