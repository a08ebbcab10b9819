/**
 * End to end over HTTP: a service's system that writes the same Encounter
 * more than once (a retried PUT, then a correction of its text) records one
 * contact, not three.
 */
import type { Bundle, Encounter } from '@medplum/fhirtypes';
import { FORLOP_SYSTEMS } from '../../fhir/builders/pathway';
import { familyWorkflowId, pathwayStateQuery } from '../../workflows/messages';
import { startStack, until, type Stack } from './harness';

jest.setTimeout(120_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack('2026-11-03', 'e2e-duplicate-writes');
});
afterAll(async () => {
  await stack?.close();
});

it('records an Encounter written three times as one contact', async () => {
  const helsestasjon = await stack.token('helsestasjon');
  // 11 weeks pregnant: the first consultation (weeks 6-12) is planned as an Encounter.
  const { patient, familyId } = await stack.enrol(helsestasjon, '2027-05-25');
  await stack.route();
  const handle = stack.env.client.workflow.getHandle(familyWorkflowId(familyId));
  const planned = await until('the planned first consultation', async () => {
    const found = await stack.call<Bundle<Encounter>>(helsestasjon, 'GET', `/fhir/Encounter?subject=${patient}`);
    return found.body.entry?.map((e) => e.resource!).find((e) => e.identifier?.some((i) => i.system === FORLOP_SYSTEMS.pathwayStep && i.value?.endsWith('/preg-1')));
  });

  const finished = { ...planned, status: 'finished' as const, period: { start: '2026-11-03T10:00:00+01:00', end: '2026-11-03T11:00:00+01:00' } };
  delete finished.meta;
  for (const body of [finished, finished, { ...finished, text: { status: 'generated' as const, div: '<div xmlns="http://www.w3.org/1999/xhtml">Samtale om kosthold</div>' } }]) {
    expect((await stack.call(helsestasjon, 'PUT', `/fhir/Encounter/${planned.id}`, body)).status).toBe(200);
  }
  const versions = await stack.call<Bundle>(helsestasjon, 'GET', `/fhir/Encounter/${planned.id}/_history`);
  expect(versions.body.entry!.length).toBeGreaterThanOrEqual(3);
  await stack.route();

  await until('the contact to be done', async () => (await handle.query(pathwayStateQuery)).steps.find((x) => x.step === 'preg-1')?.status === 'done');
  await stack.route();
  const state = await handle.query(pathwayStateQuery);
  expect(state.timeline.filter((e) => e.what === 'Første svangerskapskonsultasjon held')).toHaveLength(1);
  expect(state.applied.filter((id) => id === `finished:Encounter/${planned.id}`)).toHaveLength(1);
});
