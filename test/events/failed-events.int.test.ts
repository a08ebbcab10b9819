/**
 * One bad change does not stop the others (issue #21, item 1): an enrolment
 * the router can never deliver (a pathway code no definition has, stored
 * directly in the store as data from before the write-time check would be)
 * sits in the change feed between two good enrolments of other families. Both
 * good families are enrolled and get their later EPDS results; the bad one is
 * kept as a failed event with a notice to its coordinator, its mother's later
 * EPDS result waits for her family, and both are delivered once the
 * EpisodeOfCare is corrected. Real components: the embedded Temporal server,
 * the SDK worker and client, the store on PGlite.
 */
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import type { Communication, EpisodeOfCare, Observation, Patient, QuestionnaireResponse } from '@medplum/fhirtypes';
import { createPathwayActivities } from '../../activities/pathway-effects';
import { FailedEvents } from '../../events/failed-events';
import { FAILED_EVENT_CATEGORY } from '../../events/coordinator-notices';
import { DUE_DATE_EXTENSION, PATHWAY_TYPE_SYSTEM } from '../../events/map-resource';
import { EventRouter, familyIdOf } from '../../events/router';
import { FhirStore, openPglite } from '../../fhir/store';
import { DefinitionRegistry } from '../../pathways/registry';
import { createTestEnvironment, type EmbeddedTestEnvironment } from '../../temporal/embedded/test-env';
import { createForlopWorker } from '../../temporal/worker';
import { familyWorkflowId, pathwayStateQuery } from '../../workflows/messages';
import { morningOf } from '../support/time';

Runtime.install({ logger: new DefaultLogger('WARN') });
jest.setTimeout(120_000);

const registry = DefinitionRegistry.builtIn();
const taskQueue = 'failed-events-test';
let env: EmbeddedTestEnvironment;
let store: FhirStore;
let failed: FailedEvents;
let worker: Worker;
let running: Promise<void>;
let router: EventRouter;
const logs: string[] = [];

beforeAll(async () => {
  env = await createTestEnvironment({ startTime: morningOf('2026-11-03') });
  const db = await openPglite();
  store = await FhirStore.open(db);
  failed = new FailedEvents(db);
  router = new EventRouter({ store, failed, client: env.client, taskQueue, plans: registry, today: () => '2026-11-03', log: (msg) => logs.push(msg) });
  worker = await createForlopWorker({ connection: env.nativeConnection, taskQueue, activities: createPathwayActivities({ fhir: store, plans: registry }) });
  running = worker.run();
});
afterAll(async () => {
  worker.shutdown();
  await running;
  await env.teardown();
  await store.close();
});

const mother = async () => `Patient/${(await store.create<Patient>({ resourceType: 'Patient', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } })).id}`;
const episode = (patient: string, code: string) =>
  store.create<EpisodeOfCare>({
    resourceType: 'EpisodeOfCare',
    status: 'active',
    type: [{ coding: [{ system: PATHWAY_TYPE_SYSTEM, code }] }],
    patient: { reference: patient },
    managingOrganization: { reference: 'Organization/sarpsborg-kommune' },
    careManager: { reference: 'Practitioner/coordinator-1' },
    period: { start: '2026-11-03' },
    extension: [{ url: DUE_DATE_EXTENSION, valueDate: '2027-06-01' }],
  });
const epds = (patient: string, score: number) =>
  store.create<Observation>({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '99046-5' }] }, subject: { reference: patient }, effectiveDateTime: '2026-11-03', valueInteger: score });
const stateOf = (episodeId: string) => env.client.workflow.getHandle(familyWorkflowId(familyIdOf(episodeId))).query(pathwayStateQuery);

it('delivers the good changes on either side of a poison one, lists the poison one as failed with a notice, and delivers it and what waited for it once the data is fixed', async () => {
  const [a, poisoned, b] = [await mother(), await mother(), await mother()];
  const good1 = await episode(a, 'Basisprogram');
  const poison = await episode(poisoned, 'Basis');
  const good2 = await episode(b, 'Basisprogram');
  const good2Seq = (await store.changesAfter(0, 10_000)).at(-1)!.seq;
  await router.runUntilCaughtUp();

  // Both good families are enrolled; the poison one is listed, once, with why.
  expect((await stateOf(good1.id!)).anchors.dueDate).toBe('2027-06-01');
  expect((await stateOf(good2.id!)).anchors.dueDate).toBe('2027-06-01');
  let open = await failed.list(['failed', 'retry']);
  expect(open).toEqual([expect.objectContaining({ resource: `EpisodeOfCare/${poison.id}/_history/1`, patient: poisoned, cause: 'unknown-definition', state: 'failed', familyId: familyIdOf(poison.id!) })]);
  expect(open[0].error).toContain("pathway code 'Basis'");
  expect(open[0].error).toContain('Basisprogram');
  // The family's coordinator is told, by a Communication to the care manager and the managing organisation.
  const notice = await store.read<Communication>('Communication', open[0].notice!.split('/')[1]);
  expect(notice).toMatchObject({ subject: { reference: poisoned }, category: [{ coding: [{ code: FAILED_EVENT_CATEGORY }] }], recipient: [{ reference: 'Practitioner/coordinator-1' }, { reference: 'Organization/sarpsborg-kommune' }] });
  expect(notice.payload?.[0].contentString).toContain(`/api/failed-events/${open[0].id}/retry`);
  // The router moved past it: its checkpoint is beyond the second good enrolment.
  expect(await store.checkpoint('pathway-router')).toBeGreaterThanOrEqual(good2Seq);

  // Later EPDS results: the good families get theirs; the poisoned mother's waits for her family.
  const [epdsA, epdsPoisoned, epdsB] = [await epds(a, 5), await epds(poisoned, 6), await epds(b, 7)];
  await router.runUntilCaughtUp();
  expect((await stateOf(good1.id!)).applied).toContain(`Observation/${epdsA.id}/_history/1`);
  expect((await stateOf(good2.id!)).applied).toContain(`Observation/${epdsB.id}/_history/1`);
  open = await failed.list(['failed', 'retry']);
  expect(open.map((f) => [f.resource, f.cause])).toEqual([
    [`EpisodeOfCare/${poison.id}/_history/1`, 'unknown-definition'],
    [`Observation/${epdsPoisoned.id}/_history/1`, 'no-family'],
  ]);

  // The municipality corrects the pathway code: the family is enrolled and the EPDS result that waited is delivered.
  await store.update<EpisodeOfCare>({ ...poison, type: [{ coding: [{ system: PATHWAY_TYPE_SYSTEM, code: 'Basisprogram' }] }] });
  await router.runUntilCaughtUp();
  expect((await stateOf(poison.id!)).applied).toContain(`Observation/${epdsPoisoned.id}/_history/1`);
  expect(await failed.list(['failed', 'retry'])).toEqual([]);
  const closed = await failed.list(['delivered', 'superseded']);
  expect(closed.map((f) => [f.resource, f.state])).toEqual([
    [`EpisodeOfCare/${poison.id}/_history/1`, 'superseded'],
    [`Observation/${epdsPoisoned.id}/_history/1`, 'delivered'],
  ]);
  // Logged once per failure, not once per pass.
  expect(logs.filter((l) => l.startsWith('event could not be delivered')).length).toBe(2);
});

it('an operator retry delivers a failed event once its cause is fixed, and a retry that fails again leaves it failed with the attempt counted', async () => {
  const m = await mother();
  // Stored directly, as data from before the write-time check: no due date and no birth date.
  const bad = await store.create<EpisodeOfCare>({
    resourceType: 'EpisodeOfCare',
    status: 'active',
    type: [{ coding: [{ system: PATHWAY_TYPE_SYSTEM, code: 'Basisprogram' }] }],
    patient: { reference: m },
    managingOrganization: { reference: 'Organization/sarpsborg-kommune' },
    period: { start: '2026-11-03' },
  });
  await router.runUntilCaughtUp();
  let [event] = (await failed.list(['failed'])).filter((f) => f.patient === m);
  expect(event).toMatchObject({ cause: 'missing-anchor', attempts: 1 });
  expect(event.error).toContain(DUE_DATE_EXTENSION);

  // Retried as it is: fails again.
  expect(await failed.requestRetry(event.id, 'test')).toBe(true);
  await router.runUntilCaughtUp();
  [event] = (await failed.list(['failed'])).filter((f) => f.patient === m);
  expect(event).toMatchObject({ cause: 'missing-anchor', attempts: 2, state: 'failed' });

  // Fixed in place by a system that can only patch the current version, then retried: delivered.
  await store.update<EpisodeOfCare>({ ...bad, extension: [{ url: DUE_DATE_EXTENSION, valueDate: '2027-05-20' }] });
  // The new version is itself delivered (and supersedes the failed one); a retry of a closed one is refused.
  await router.runUntilCaughtUp();
  expect((await stateOf(bad.id!)).anchors.dueDate).toBe('2027-05-20');
  expect((await failed.get(event.id))?.state).toBe('superseded');
  expect(await failed.requestRetry(event.id, 'test')).toBe(false);
});

it('a screening that cannot be applied as written (a partial EPDS) is a failed event with the reason, the family goes on, and the corrected version is delivered', async () => {
  const m = await mother();
  const enrolled = await episode(m, 'Basisprogram');
  await router.runUntilCaughtUp();
  const response = (answers: number[]): QuestionnaireResponse => ({
    resourceType: 'QuestionnaireResponse',
    questionnaire: 'https://forlop.no/fhir/Questionnaire/epds|1.0',
    status: 'completed',
    subject: { reference: m },
    authored: '2026-11-03T10:00:00+01:00',
    item: answers.map((a, i) => ({ linkId: String(i + 1), answer: [{ valueInteger: a }] })),
  });
  const partial = await store.create<QuestionnaireResponse>(response([1, 1, 1]));
  const later = await epds(m, 4);
  await router.runUntilCaughtUp();
  const [event] = (await failed.list(['failed'])).filter((f) => f.patient === m);
  expect(event).toMatchObject({ resource: `QuestionnaireResponse/${partial.id}/_history/1`, cause: 'not-applicable', familyId: familyIdOf(enrolled.id!) });
  expect(event.error).toContain('3 of 10 items answered');
  expect(event.notice).toBeDefined();
  // Not an ordering problem: the family's later result is applied.
  expect((await stateOf(enrolled.id!)).applied).toContain(`Observation/${later.id}/_history/1`);

  // The service completes the screening (a new version): applied, and the failed event superseded.
  await store.update<QuestionnaireResponse>({ ...response([1, 1, 1, 0, 0, 0, 0, 0, 0, 0]), id: partial.id });
  await router.runUntilCaughtUp();
  expect((await stateOf(enrolled.id!)).applied).toContain(`QuestionnaireResponse/${partial.id}/_history/2`);
  expect((await failed.get(event.id))?.state).toBe('superseded');
});
