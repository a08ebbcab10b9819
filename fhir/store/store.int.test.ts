/**
 * The FHIR store against PGlite, and against a PostgreSQL server when
 * FORLOP_TEST_DATABASE_URL is set (.ci/run starts one).
 */
import type { AuditEvent, Bundle, Patient, Task } from '@medplum/fhirtypes';
import { OperationOutcomeError } from '../outcome';
import { SYSTEMS } from '../norwegian-identifiers';
import { FhirStore, openPglite, openPostgres, type Db } from './index';
import { migrate } from './migrations';

/** A fresh, empty database on each backend (its schema not yet made). */
const databases: [string, () => Promise<Db>][] = [['PGlite', () => openPglite()]];
if (process.env.FORLOP_TEST_DATABASE_URL) {
  databases.push([
    'PostgreSQL',
    async () => {
      const db = await openPostgres(process.env.FORLOP_TEST_DATABASE_URL!);
      await db.query('DROP SCHEMA IF EXISTS fhir CASCADE');
      return db;
    },
  ]);
}
const backends: [string, () => Promise<FhirStore>][] = databases.map(([name, fresh]) => [name, async () => FhirStore.open(await fresh())]);

const mother: Patient = { resourceType: 'Patient', identifier: [{ system: SYSTEMS.fnr, value: '01019000083' }], birthDate: '1990-01-01' };
const task = (patientId: string, overrides: Partial<Task> = {}): Task => ({
  resourceType: 'Task',
  status: 'requested',
  intent: 'order',
  for: { reference: `Patient/${patientId}` },
  requester: { reference: 'Organization/helsestasjon' },
  owner: { reference: 'Organization/familieambulatorium' },
  authoredOn: '2026-03-30T09:00:00Z',
  ...overrides,
});

async function outcomeOf(p: Promise<unknown>): Promise<{ status: number; texts: (string | undefined)[]; expressions: (string | undefined)[] }> {
  try {
    await p;
  } catch (error) {
    if (error instanceof OperationOutcomeError) return { status: error.status, texts: error.outcome.issue!.map((i) => i.details?.text), expressions: error.outcome.issue!.map((i) => i.expression?.[0]) };
    throw error;
  }
  throw new Error('expected an OperationOutcomeError');
}

describe.each(backends)('FHIR store on %s', (_name, open) => {
  let store: FhirStore;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => store?.close());

  it('creates, reads, versions, updates with If-Match, deletes softly and keeps history', async () => {
    const created = await store.create(mother);
    expect(created.meta?.versionId).toBe('1');
    expect(await store.read('Patient', created.id!)).toEqual(created);
    const updated = await store.update({ ...created, birthDate: '1990-01-02' }, { ifMatch: 'W/"1"' });
    expect(updated.meta?.versionId).toBe('2');
    expect(await outcomeOf(store.update({ ...created, birthDate: '1990-01-03' }, { ifMatch: 'W/"1"' }))).toEqual({
      status: 412,
      texts: [`Version mismatch: If-Match W/"1" but Patient/${created.id} is at version 2`],
      expressions: [undefined],
    });
    expect((await store.vread<Patient>('Patient', created.id!, '1')).birthDate).toBe('1990-01-01');
    await store.delete('Patient', created.id!);
    expect((await outcomeOf(store.read('Patient', created.id!))).status).toBe(410);
    expect((await store.history('Patient', created.id!)).map((h) => [h.versionId, h.deleted])).toEqual([
      [3, true],
      [2, false],
      [1, false],
    ]);
    // The current version is stored once (fhir.resource) and the ones it replaced in the history:
    // the change feed still sees every version with its own content.
    const feed = (await store.changesAfter(0, 1000)).filter((c) => c.resource.id === created.id);
    expect(feed.map((c) => [c.resource.meta?.versionId, (c.resource as Patient).birthDate, c.deleted])).toEqual([
      ['1', '1990-01-01', false],
      ['2', '1990-01-02', false],
      ['3', '1990-01-02', true],
    ]);
    expect((await outcomeOf(store.read('Patient', 'nope'))).status).toBe(404);
  });

  it('stores nothing when a resource is invalid', async () => {
    const before = await store.search('Task', { _total: 'accurate' });
    expect(await outcomeOf(store.create(task('x', { status: 'bogus' as Task['status'] })))).toMatchObject({ status: 422, expressions: ['Task.status'] });
    expect((await store.search('Task', { _total: 'accurate' })).total).toBe(before.total);
  });

  it('lets exactly one of two concurrent updates with the same If-Match win', async () => {
    const t = await store.create(task('p1'));
    const results = await Promise.allSettled([
      store.update({ ...t, status: 'received' }, { ifMatch: 'W/"1"' }),
      store.update({ ...t, status: 'accepted' }, { ifMatch: 'W/"1"' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((rejected.reason as OperationOutcomeError).status).toBe(412);
  });

  it('runs a transaction atomically and resolves urn:uuid references', async () => {
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111', resource: { ...mother, birthDate: '1991-05-05' }, request: { method: 'POST', url: 'Patient' } },
        { resource: task('placeholder', { for: { reference: 'urn:uuid:11111111-1111-4111-8111-111111111111' } }), request: { method: 'POST', url: 'Task' } },
      ],
    };
    const response = await store.transaction(bundle);
    const patientId = response.entry![0].resource!.id;
    expect((response.entry![1].resource as Task).for?.reference).toBe(`Patient/${patientId}`);
    expect((await store.search('Task', { patient: `Patient/${patientId}` })).resources).toHaveLength(1);

    const bad: Bundle = { ...bundle, entry: [{ ...bundle.entry![0], resource: { ...mother, birthDate: '1992-02-02' } }, { ...bundle.entry![1], resource: task('p', { status: 'bogus' as Task['status'] }) }] };
    const failure = await outcomeOf(store.transaction(bad));
    expect(failure.status).toBe(422);
    expect(failure.expressions).toEqual(['Bundle.entry[1].resource.status']);
    expect((await store.search('Patient', { _total: 'accurate', _count: '0' })).total).toBe(1); // only the first bundle's Patient: the bad bundle's was not stored
  });

  it('searches by identifier, reference, token and date with prefixes, and refuses unknown parameters', async () => {
    const p = await store.create({ ...mother, identifier: [{ system: SYSTEMS.dnr, value: '41019000077' }] });
    const a = await store.create(task(p.id!, { status: 'requested', authoredOn: '2026-04-01T10:00:00Z' }));
    const b = await store.create(task(p.id!, { status: 'accepted', authoredOn: '2026-04-20T10:00:00Z' }));
    const ids = async (type: string, params: Record<string, string>) => (await store.search(type, params)).resources.map((r) => r.id).sort();
    expect(await ids('Patient', { identifier: `${SYSTEMS.dnr}|41019000077` })).toEqual([p.id]);
    expect(await ids('Task', { patient: `Patient/${p.id}` })).toEqual([a.id, b.id].sort());
    expect(await ids('Task', { patient: `Patient/${p.id}`, status: 'accepted' })).toEqual([b.id]);
    expect(await ids('Task', { patient: `Patient/${p.id}`, 'authored-on': 'lt2026-04-10' })).toEqual([a.id]);
    expect(await ids('Task', { patient: `Patient/${p.id}`, 'authored-on': 'ge2026-04-20' })).toEqual([b.id]);
    expect(await ids('Task', { patient: `Patient/${p.id}`, 'authored-on': '2026-04' })).toEqual([a.id, b.id].sort());
    expect(await ids('Task', { owner: 'Organization/familieambulatorium', _id: `${a.id}` })).toEqual([a.id]);
    expect(await outcomeOf(store.search('Task', { colour: 'red' }))).toEqual({
      status: 400,
      texts: ["Unsupported search parameter 'colour' for Task; see GET /fhir/metadata for the supported ones"],
      expressions: ['colour'],
    });
    const withPatient = await store.search('Task', { _id: a.id!, _include: 'Task:patient' });
    expect(withPatient.included.map((r) => `${r.resourceType}/${r.id}`)).toEqual([`Patient/${p.id}`]);
    const withTasks = await store.search('Patient', { _id: p.id!, _revinclude: 'Task:patient' });
    expect(withTasks.included.map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    expect((await outcomeOf(store.search('Task', { _include: 'Task:status' }))).texts).toEqual(["Unsupported _include 'Task:status': use Task:<reference parameter>[:TargetType]"]);
    const page = await store.search('Task', { patient: `Patient/${p.id}`, _count: '1', _total: 'accurate' });
    expect(page.resources).toHaveLength(1);
    expect(page.total).toBe(2);
  });

  it('creates several resources in one write, all or none', async () => {
    const before = (await store.search('Task', { _total: 'accurate', _count: '0' })).total!;
    const [a, b] = await store.createAll([task('all-1'), task('all-2')]);
    expect((await store.read<Task>('Task', a.id!)).for?.reference).toBe('Patient/all-1');
    expect((await store.read<Task>('Task', b.id!)).meta?.versionId).toBe('1');
    expect(await outcomeOf(store.createAll([task('all-3'), task('all-4', { status: 'bogus' as Task['status'] })]))).toMatchObject({ status: 422, expressions: ['Task.status'] });
    expect((await store.search('Task', { patient: 'Patient/all-3' })).resources).toEqual([]);
    expect((await store.search('Task', { _total: 'accurate', _count: '0' })).total).toBe(before + 2);
  });

  it('indexes a batch whose values repeat, also where one text is a code in one column and a time in another', async () => {
    // The write sends a repeated value once per column type: the same string as a token and as a date must stay two.
    const when = '2026-03-31T10:00:00.000Z';
    const [a, b] = await store.createAll([task('same-1', { authoredOn: when, identifier: [{ system: 'urn:x', value: when }] }), task('same-2', { authoredOn: when, identifier: [{ system: 'urn:x', value: when }] })]);
    const byCode = (await store.search('Task', { identifier: `urn:x|${when}` })).resources.map((r) => r.id);
    const byDate = (await store.search('Task', { 'authored-on': when, patient: 'Patient/same-2' })).resources.map((r) => r.id);
    expect(byCode.sort()).toEqual([a.id, b.id].sort());
    expect(byDate).toEqual([b.id]);
    expect((await store.read<Task>('Task', a.id!)).identifier).toEqual([{ system: 'urn:x', value: when }]);
  });

  it('finds resources and what references them through given parameters, in one statement', async () => {
    const patient = await store.create(mother);
    const ref = `Patient/${patient.id}`;
    const mine = await store.create(task(patient.id!));
    const mentioned = await store.create(task('linked-other', { focus: { reference: ref } }));
    const gone = await store.create(task(patient.id!));
    await store.delete('Task', gone.id!);
    await store.create(task('linked-other'));
    const found = await store.linked([ref, 'Patient/nobody'], [{ resourceType: 'Task', param: 'patient' }]);
    expect(found.map((r) => `${r.resourceType}/${r.id}`).sort()).toEqual([ref, `Task/${mine.id}`].sort());
    const both = await store.linked([ref], [{ resourceType: 'Task', param: 'patient' }, { resourceType: 'Task', param: 'focus' }]);
    expect(both.map((r) => r.id).sort()).toEqual([patient.id, mine.id, mentioned.id].sort());
    expect(await store.linked([], [{ resourceType: 'Task', param: 'patient' }])).toEqual([]);
  });

  it('keeps a write generation that grows with every write of a watched type, and only then', async () => {
    const watched = ['Patient', 'CarePlan', 'CareTeam', 'EpisodeOfCare'];
    const before = (await store.writeGeneration(watched))!;
    const notified: string[] = [];
    const unsubscribe = store.onChange((type) => notified.push(type));
    await store.create(task('generation'));
    const [audit] = await store.createAll<AuditEvent>([{ resourceType: 'AuditEvent', type: { code: 'rest' }, recorded: '2026-03-30T09:00:00Z', agent: [{ requestor: true, who: { display: 'x' } }], source: { observer: { display: 'Forløp' } } }]);
    expect(await store.writeGeneration(watched)).toBe(before);
    // Nor is an AuditEvent in the change feed (no reader acts on one), though it is stored and found.
    expect((await store.changesAfter(0, 100_000)).filter((c) => c.resource.resourceType === 'AuditEvent')).toEqual([]);
    expect((await store.search('AuditEvent', { _id: audit.id! })).resources).toHaveLength(1);
    // ...and the feed's readers in this process are woken for the Task only.
    unsubscribe();
    expect(notified).toEqual(['Task']);
    const patient = store.create(mother);
    // Under way: on PGlite (this process writes alone) there is no generation to trust yet.
    const during = await store.writeGeneration(watched);
    if (_name === 'PGlite') expect(during).toBeUndefined();
    await patient;
    const after = (await store.writeGeneration(watched))!;
    expect(after).toBeGreaterThan(before);
    await store.update({ ...(await patient), birthDate: '1990-01-04' });
    expect(await store.writeGeneration(['Patient'])).toBeGreaterThan(0);
    expect(await store.writeGeneration(watched)).toBeGreaterThan(after);
    await expect(store.writeGeneration(['Task'])).rejects.toThrow('No write generation is kept for Task');
    if (_name === 'PostgreSQL') {
      // Another process on the same database (forlop worker beside forlop serve): its writes count too.
      const other = await FhirStore.open(await openPostgres(process.env.FORLOP_TEST_DATABASE_URL!));
      const seen = (await store.writeGeneration(watched))!;
      await other.create(mother);
      expect(await store.writeGeneration(watched)).toBeGreaterThan(seen);
      // With a mark, a read or search sent after it brings the generation along: as new as the
      // mark asks, not newer. A mark taken after the other process's write gets that write.
      const mark = store.generationMark();
      const { id } = await store.create(task('generation-mark'));
      await store.read('Task', id!);
      const current = (await store.writeGeneration(watched))!;
      await other.create(mother);
      expect(await store.writeGeneration(watched, mark)).toBe(current);
      const later = store.generationMark();
      expect(await store.writeGeneration(watched, later)).toBeGreaterThan(current);
      await store.search('Task', { _id: id! });
      expect(await store.writeGeneration(watched, later)).toBe(await store.writeGeneration(watched));
      await other.close();
    }
  });

  it('compresses large resources and AuditEvents with lz4 where the server has it, and they read back whole', async () => {
    const db = (store as unknown as { db: Db }).db;
    const { rows: support } = await db.query<{ lz4: boolean }>(`SELECT 'lz4' = ANY(enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'`);
    // Debian's PostgreSQL (the one .ci/run starts) is built with lz4; PGlite is not.
    expect(support[0].lz4).toBe(_name === 'PostgreSQL');
    const references = Array.from({ length: 40 }, (_, i) => ({ what: { reference: `Task/compressed-${i}` } }));
    const [event] = await store.createAll<AuditEvent>([{ resourceType: 'AuditEvent', type: { code: 'rest' }, recorded: '2026-04-03T08:00:00Z', agent: [{ requestor: true }], source: { observer: { display: 'Forløp' } }, entity: references }]);
    const large = await store.create(task('large', { description: 'x'.repeat(4000) }));
    const { rows } = await db.query<{ compression: string }>(
      `SELECT pg_column_compression(content) AS compression FROM fhir.audit_event WHERE id = $1 UNION ALL SELECT pg_column_compression(content) FROM fhir.resource WHERE resource_type = 'Task' AND id = $2`,
      [event.id, large.id],
    );
    const method = support[0].lz4 ? 'lz4' : 'pglz';
    expect(rows.map((r) => r.compression)).toEqual([method, method]);
    expect([await store.read('AuditEvent', event.id!), await store.read('Task', large.id!)]).toEqual([event, large]);
  });

  it('keeps AuditEvents in their own table: read, searched by date, type and patient, included, never changed', async () => {
    const event = (recorded: string, entity: string[], type = { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' }): AuditEvent => ({
      resourceType: 'AuditEvent',
      type,
      recorded,
      agent: [{ requestor: true, who: { display: 'client' } }],
      source: { observer: { display: 'Forløp' } },
      entity: entity.map((reference) => ({ what: { reference } })),
    });
    const patient = await store.create(mother);
    const p = `Patient/${patient.id}`;
    const [early, late, other] = await store.createAll<AuditEvent>([
      event('2026-04-01T08:00:00Z', [p, 'Task/t1']),
      event('2026-04-02T08:00:00.250Z', [`${p}/_history/1`]),
      event('2026-04-02T09:00:00Z', ['Patient/someone-else', 'http://elsewhere/fhir/Patient/x'], { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110100' }),
    ]);
    const ids = async (params: Record<string, string>) => (await store.search('AuditEvent', params)).resources.map((r) => r.id).sort();
    expect(await store.read('AuditEvent', early.id!)).toEqual(early);
    expect(await store.vread('AuditEvent', late.id!, '1')).toEqual(late);
    expect((await outcomeOf(store.vread('AuditEvent', late.id!, '2'))).status).toBe(404);
    expect((await store.history('AuditEvent', early.id!)).map((h) => h.versionId)).toEqual([1]);
    expect((await outcomeOf(store.read('AuditEvent', 'nobody'))).status).toBe(404);

    const all = [early.id, late.id, other.id].sort();
    expect(await ids({ _id: all.join(','), _count: '10' })).toEqual(all);
    expect(await ids({ _id: all.join(','), date: 'ge2026-04-02' })).toEqual([late.id, other.id].sort());
    expect(await ids({ _id: all.join(','), date: '2026-04-02T08:00:00.250Z' })).toEqual([late.id]);
    expect(await ids({ _id: all.join(','), date: 'lt2026-04-02' })).toEqual([early.id]);
    expect(await ids({ _id: all.join(','), type: 'rest' })).toEqual([early.id, late.id].sort());
    expect(await ids({ _id: all.join(','), type: 'http://dicom.nema.org/resources/ontology/DCM|110100' })).toEqual([other.id]);
    expect(await ids({ _id: all.join(','), type: '|rest' })).toEqual([]);
    // patient: references that resolve to a Patient, as written (a version of one is its own target, as
    // in the search index of other types), not an absolute URL.
    expect(await ids({ patient: p })).toEqual([early.id]);
    expect(await ids({ patient: `${p}/_history/1,Patient/someone-else` })).toEqual([late.id, other.id].sort());
    expect(await ids({ patient: 'http://elsewhere/fhir/Patient/x' })).toEqual([]);
    expect(await ids({ [`patient:Patient`]: patient.id! })).toEqual([early.id]);
    const page = await store.search('AuditEvent', { _id: all.join(','), _sort: '_lastUpdated', _count: '2', _total: 'accurate' });
    expect([page.total, page.resources.length]).toEqual([3, 2]);
    expect((await outcomeOf(store.search('AuditEvent', { entity: 'Task/t1' }))).status).toBe(400);

    // Who saw this patient: the AuditEvents naming it, with the patient's search.
    const withLog = await store.search('Patient', { _id: patient.id!, _revinclude: 'AuditEvent:patient' });
    expect(withLog.included.map((r) => r.id).sort()).toEqual([early.id]);
    const named = await store.search('AuditEvent', { _id: early.id!, _include: 'AuditEvent:patient' });
    expect(named.included.map((r) => `${r.resourceType}/${r.id}`)).toEqual([p]);

    // Append-only, also inside a transaction, and nothing of them in the generic tables.
    expect((await outcomeOf(store.update({ ...early, outcome: '8' }))).status).toBe(405);
    expect((await outcomeOf(store.delete('AuditEvent', early.id!))).status).toBe(405);
    const tx = outcomeOf(store.transaction({ resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'DELETE', url: `AuditEvent/${early.id}` } }] }));
    expect((await tx).status).toBe(405);
    expect(await store.read('AuditEvent', early.id!)).toEqual(early);
    const db = (store as unknown as { db: Db }).db;
    const { rows } = await db.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM fhir.resource WHERE resource_type = 'AuditEvent') + (SELECT count(*) FROM fhir.token_index WHERE resource_type = 'AuditEvent')
            + (SELECT count(*) FROM fhir.reference_index WHERE resource_type = 'AuditEvent') + (SELECT count(*) FROM fhir.date_index WHERE resource_type = 'AuditEvent') AS n`,
    );
    expect(Number(rows[0].n)).toBe(0);
  });
});

describe.each(databases)('FHIR store migration 6 on %s', (_name, fresh) => {
  it('moves the AuditEvents stored before it into their own table, searchable as before', async () => {
    const db = await fresh();
    try {
      await migrate(db, 5);
      // An AuditEvent as the store kept it at schema version 5: a current row and its index rows.
      const content = { resourceType: 'AuditEvent', id: 'old', meta: { versionId: '1', lastUpdated: '2026-03-01T10:00:01Z' }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' }, recorded: '2026-03-01T10:00:00Z', agent: [{ requestor: true, who: { display: 'c' } }], source: { observer: { display: 'Forløp' } }, entity: [{ what: { reference: 'Patient/p' } }] };
      await db.query(`INSERT INTO fhir.resource VALUES ('AuditEvent', 'old', 1, '2026-03-01T10:00:01Z', false, $1)`, [JSON.stringify(content)]);
      await db.query(`INSERT INTO fhir.token_index VALUES ('AuditEvent', 'old', 'type', 'http://terminology.hl7.org/CodeSystem/audit-event-type', 'rest')`);
      await db.query(`INSERT INTO fhir.reference_index VALUES ('AuditEvent', 'old', 'patient', 'Patient/p')`);
      await db.query(`INSERT INTO fhir.date_index VALUES ('AuditEvent', 'old', 'date', '2026-03-01T10:00:00Z', '2026-03-01T10:00:00Z')`);
      const store = await FhirStore.open(db);
      expect(await store.read('AuditEvent', 'old')).toEqual(content);
      const found = async (params: Record<string, string>) => (await store.search('AuditEvent', params)).resources.map((r) => r.id);
      expect([await found({ patient: 'Patient/p' }), await found({ date: '2026-03-01' }), await found({ type: 'rest' }), await found({ date: '2026-03-02' })]).toEqual([['old'], ['old'], ['old'], []]);
      const { rows } = await db.query<{ n: number }>(`SELECT (SELECT count(*) FROM fhir.resource) + (SELECT count(*) FROM fhir.token_index) + (SELECT count(*) FROM fhir.reference_index) + (SELECT count(*) FROM fhir.date_index) AS n`);
      expect(Number(rows[0].n)).toBe(0);
    } finally {
      await db.close();
    }
  });
});
