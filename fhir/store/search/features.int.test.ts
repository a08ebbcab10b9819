/**
 * Search features integrators use (issue #25): chained parameters,
 * :missing, :not, _summary=count and _sort on date parameters, in the
 * store's one SQL builder; on PGlite, and on a PostgreSQL server when
 * FORLOP_TEST_DATABASE_URL is set.
 */
import type { Observation, Patient, Task } from '@medplum/fhirtypes';
import { SYSTEMS } from '../../norwegian-identifiers';
import { FhirStore, openPglite, openPostgres } from '../index';

const backends: [string, () => Promise<FhirStore>][] = [['PGlite', async () => FhirStore.open(await openPglite())]];
if (process.env.FORLOP_TEST_DATABASE_URL) {
  backends.push([
    'PostgreSQL',
    async () => {
      const db = await openPostgres(process.env.FORLOP_TEST_DATABASE_URL!);
      await db.query('DROP SCHEMA IF EXISTS fhir CASCADE');
      return FhirStore.open(db);
    },
  ]);
}

describe.each(backends)('search features on %s', (_name, open) => {
  let store: FhirStore;
  let mother: Patient;
  let other: Patient;
  const ids = (found: { resources: { id?: string }[] }) => found.resources.map((r) => r.id).sort();
  const task = (patient: Patient, extra: Partial<Task>): Task => ({ resourceType: 'Task', status: 'requested', intent: 'order', for: { reference: `Patient/${patient.id}` }, ...extra });
  let early: Task;
  let late: Task;
  let undated: Task;
  let cancelled: Task;

  beforeAll(async () => {
    store = await open();
    mother = await store.create<Patient>({ resourceType: 'Patient', identifier: [{ system: SYSTEMS.fnr, value: '01019000083' }] });
    other = await store.create<Patient>({ resourceType: 'Patient', identifier: [{ system: SYSTEMS.fnr, value: '13097248022' }] });
    early = await store.create(task(mother, { authoredOn: '2026-01-10T09:00:00Z', code: { coding: [{ system: 'urn:x', code: 'a' }] } }));
    late = await store.create(task(mother, { authoredOn: '2026-03-10T09:00:00Z', code: { coding: [{ system: 'urn:x', code: 'b' }] } }));
    undated = await store.create(task(other, {}));
    cancelled = await store.create(task(other, { status: 'cancelled', authoredOn: '2026-02-10T09:00:00Z' }));
    // A Task whose patient was deleted is not found by a chain through it.
    const gone = await store.create<Patient>({ resourceType: 'Patient', identifier: [{ system: SYSTEMS.fnr, value: '01019000083' }] });
    await store.create(task(gone, {}));
    await store.delete('Patient', gone.id!);
  });
  afterAll(() => store.close());

  it('follows a chain to the referenced resource: patient:Patient.identifier and subject:Patient.identifier', async () => {
    expect(ids(await store.search('Task', { 'patient:Patient.identifier': `${SYSTEMS.fnr}|01019000083` }))).toEqual([early.id, late.id].sort());
    expect(ids(await store.search('Task', { 'patient:Patient.identifier': `${SYSTEMS.fnr}|13097248022` }))).toEqual([undated.id, cancelled.id].sort());
    const observation = await store.create<Observation>({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${mother.id}` } });
    expect(ids(await store.search('Observation', { 'subject:Patient.identifier': '01019000083' }))).toEqual([observation.id]);
    expect(ids(await store.search('Observation', { 'subject:Patient.identifier': 'nobody' }))).toEqual([]);
  });

  it('follows a chain only to a resource the caller may see, so it cannot probe a hidden patient\'s identifier', async () => {
    const patient = await store.create<Patient>({ resourceType: 'Patient', identifier: [{ system: SYSTEMS.fnr, value: '15076500565' }], managingOrganization: { reference: 'Organization/municipality' } });
    const made = await store.create<Observation>({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${patient.id}` }, performer: [{ reference: 'Organization/lab' }] });
    const chain = { 'subject:Patient.identifier': `${SYSTEMS.fnr}|15076500565` };
    // The lab sees its Observation but not the Patient (an Observation makes no one a family member).
    expect(ids(await store.search('Observation', { _id: made.id! }, { scope: { organisations: ['Organization/lab'] } }))).toEqual([made.id]);
    expect(ids(await store.search('Observation', chain, { scope: { organisations: ['Organization/lab'] } }))).toEqual([]);
    expect(ids(await store.search('Observation', chain, { scope: { organisations: ['Organization/municipality'] } }))).toEqual([made.id]);
  });

  it('refuses a chain it does not answer with 400 naming it', async () => {
    await expect(store.search('Task', { 'patient:Patient.colour': 'red' })).rejects.toMatchObject({ status: 400 });
    await expect(store.search('Task', { 'patient:Patient.organization.identifier': 'x' })).rejects.toMatchObject({ status: 400 });
  });

  it('finds resources with and without a value by :missing', async () => {
    const withDate = ids(await store.search('Task', { 'authored-on:missing': 'false', _count: '100' }));
    expect(withDate).toEqual([early.id, late.id, cancelled.id].sort());
    const withoutCode = ids(await store.search('Task', { 'code:missing': 'true', _count: '100' }));
    expect(withoutCode).toContain(undated.id);
    expect(withoutCode).not.toContain(early.id);
    await expect(store.search('Task', { 'code:missing': 'maybe' })).rejects.toMatchObject({ status: 400 });
  });

  it('excludes by :not on a token, keeping resources with no value', async () => {
    const found = ids(await store.search('Task', { 'status:not': 'cancelled', 'patient': `Patient/${other.id}` }));
    expect(found).toEqual([undated.id]);
    expect(ids(await store.search('Task', { 'code:not': 'urn:x|a', _count: '100' }))).not.toContain(early.id);
    expect(ids(await store.search('Task', { 'code:not': 'urn:x|a', _count: '100' }))).toContain(late.id);
  });

  it('counts without entries by _summary=count', async () => {
    const found = await store.search('Task', { _summary: 'count', 'patient': `Patient/${mother.id}` });
    expect(found.total).toBe(2);
    expect(found.resources).toEqual([]);
    await expect(store.search('Task', { _summary: 'true' })).rejects.toMatchObject({ status: 400 });
  });

  it('sorts by a date parameter, either way, the resources without one last, and by several keys', async () => {
    const order = async (sort: string) => (await store.search('Task', { _sort: sort, _count: '100', 'patient:Patient.identifier': `${SYSTEMS.fnr}|` })).resources.map((r) => r.id);
    expect(await order('authored-on')).toEqual([early.id, cancelled.id, late.id, undated.id]);
    expect(await order('-authored-on')).toEqual([late.id, cancelled.id, early.id, undated.id]);
    expect((await order('status,authored-on'))[0]).toBe(cancelled.id);
    await expect(store.search('Task', { _sort: 'owner' })).rejects.toMatchObject({ status: 400 });
  });
});
