/**
 * The organisation hierarchy (issue #21, item 4), on the whole stack in one
 * process: the development directory is in the store as Organization
 * resources (GET /fhir/Organization), and a family managed by a unit
 * (Organization/sarpsborg-helsestasjon) is visible to the coordinator of the
 * kommune the unit is part of (the `koordinator` client of
 * sarpsborg-kommune), by Organization.partOf read from the store. Moving the
 * unit elsewhere is seen at the next request (the cache is dropped on write).
 */
import type { Bundle, EpisodeOfCare, Organization, Patient } from '@medplum/fhirtypes';
import { DUE_DATE_EXTENSION, PATHWAY_TYPE_SYSTEM } from '../../events/map-resource';
import { familyIdOf } from '../../events/router';
import { startStack, until, type Stack } from './harness';

jest.setTimeout(120_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack('2026-11-03', 'organisation-hierarchy');
});
afterAll(() => stack.close());

it('answers GET /fhir/Organization with the development directory: organisation numbers, partOf and services', async () => {
  const token = await stack.token('helsestasjon');
  const { status, body } = await stack.call<Bundle<Organization>>(token, 'GET', '/fhir/Organization?_count=50');
  expect(status).toBe(200);
  const byId = new Map(body.entry!.map((e) => [e.resource!.id, e.resource!]));
  expect([...byId.keys()].sort()).toEqual(['fredrikstad-helsestasjon', 'fredrikstad-kommune', 'ostfold-familieambulatorium', 'sarpsborg-helsestasjon', 'sarpsborg-kommune', 'sykehuset-ostfold', 'sykehuset-ostfold-dps']);
  expect(byId.get('sarpsborg-helsestasjon')).toMatchObject({
    identifier: [{ system: 'urn:oid:2.16.578.1.12.4.1.4.101', value: '910000020' }],
    partOf: { reference: 'Organization/sarpsborg-kommune' },
    type: expect.arrayContaining([{ coding: [{ system: 'https://forlop.no/fhir/CodeSystem/service', code: 'helsestasjon' }] }]),
  });
  expect(byId.get('sykehuset-ostfold-dps')).toMatchObject({ partOf: { reference: 'Organization/sykehuset-ostfold' }, type: [{ coding: [{ code: 'dps' }] }] });
});

it("shows a family managed by sarpsborg-helsestasjon to sarpsborg-kommune's coordinator, and stops when the unit is moved", async () => {
  const helsestasjon = await stack.token('helsestasjon');
  const koordinator = await stack.token('koordinator', 'system/*.rs');
  const mother = await stack.call<Patient>(helsestasjon, 'POST', '/fhir/Patient', { resourceType: 'Patient', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } });
  const episode = await stack.call<EpisodeOfCare>(helsestasjon, 'POST', '/fhir/EpisodeOfCare', {
    resourceType: 'EpisodeOfCare',
    status: 'active',
    type: [{ coding: [{ system: PATHWAY_TYPE_SYSTEM, code: 'Basisprogram' }] }],
    patient: { reference: `Patient/${mother.body.id}` },
    managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' },
    period: { start: '2026-11-03' },
    extension: [{ url: DUE_DATE_EXTENSION, valueDate: '2027-06-01' }],
  });
  expect(episode.status).toBe(201);
  await stack.route();
  const familyId = familyIdOf(episode.body.id!);

  expect((await stack.call(koordinator, 'GET', `/fhir/Patient/${mother.body.id}`)).status).toBe(200);
  // Searches filter in SQL (the store's access scope): the unit's family counts there too, total included.
  const found = await stack.call<Bundle<Patient>>(koordinator, 'GET', `/fhir/Patient?_id=${mother.body.id}&_total=accurate`);
  expect(found.body.total).toBe(1);
  expect(found.body.entry?.map((e) => e.resource?.id)).toEqual([mother.body.id]);
  // Listed once the worker has written the family's CarePlan.
  await until('the family in /api/families', async () => (await stack.call<{ families: { familyId: string }[] }>(koordinator, 'GET', '/api/families')).body.families.some((f) => f.familyId === familyId));
  // A unit's own system client spans nothing above it: the role, not the hierarchy, gives the span.
  expect((await stack.call(await stack.token('helsestasjon-fredrikstad'), 'GET', `/fhir/Patient/${mother.body.id}`)).status).toBe(404);

  // The unit is moved under Fredrikstad (an administrator's change to the directory): seen at once.
  const unit = await stack.store.read<Organization>('Organization', 'sarpsborg-helsestasjon');
  await stack.store.update<Organization>({ ...unit, partOf: { reference: 'Organization/fredrikstad-kommune' } });
  expect((await stack.call(koordinator, 'GET', `/fhir/Patient/${mother.body.id}`)).status).toBe(404);
  expect((await stack.call<Bundle<Patient>>(koordinator, 'GET', `/fhir/Patient?_id=${mother.body.id}&_total=accurate`)).body.total).toBe(0);
  expect((await stack.call<{ families: { familyId: string }[] }>(koordinator, 'GET', '/api/families')).body.families.map((f) => f.familyId)).not.toContain(familyId);
  await stack.store.update<Organization>({ ...unit, partOf: { reference: 'Organization/sarpsborg-kommune' } });
  expect((await stack.call(koordinator, 'GET', `/fhir/Patient/${mother.body.id}`)).status).toBe(200);
});
