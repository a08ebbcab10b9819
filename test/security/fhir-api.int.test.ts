/**
 * The FHIR API as `forlop start` composes it (app/http.ts): a real OIDC
 * provider (the dev IdP, oidc-provider) issues tokens; every call is
 * authenticated, scope-checked and leaves exactly one AuditEvent. The family
 * cache's tests run on a PostgreSQL server too where
 * FORLOP_TEST_ACCESS_DATABASE_URL is set (.ci/postgres.sh).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { buildHttpApp } from '../../app/http';
import { DEV_ORGANISATIONS, startDevIdp, type DevIdp } from '../../app/dev-idp';
import { FhirStore, openPglite, openPostgres, type Db } from '../../fhir/store';
import { clientToken } from './harness';

let idp: DevIdp;
let store: FhirStore;
let server: Server;
let api: string;

const token = (client: string, scope: string) => clientToken(idp.tokenEndpoint, client, scope);

/** The API of `forlop start` over `fhirStore`, with the dev IdP's organisations, on a free loopback port. */
async function listenApi(fhirStore: FhirStore): Promise<{ server: Server; api: string }> {
  const app = await buildHttpApp({ store: fhirStore, publicUrl: 'http://127.0.0.1', auth: { issuer: idp.issuer, audience: 'forlop-api', requireDpop: false, organisations: { ...DEV_ORGANISATIONS } } });
  const listening = app.listen(0, '127.0.0.1');
  await new Promise((r) => listening.once('listening', r));
  return { server: listening, api: `http://127.0.0.1:${(listening.address() as AddressInfo).port}/fhir` };
}

const audits = async () => (await store.search('AuditEvent', { _total: 'accurate', _count: '0' })).total!;

beforeAll(async () => {
  idp = await startDevIdp();
  store = await FhirStore.open(await openPglite());
  ({ server, api } = await listenApi(store));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await store.close();
  await idp.stop();
});

it('refuses a call without a token with 401 and WWW-Authenticate, and audits it', async () => {
  const before = await audits();
  const response = await fetch(`${api}/Patient`);
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
  expect(((await response.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  expect(await audits()).toBe(before + 1);
});

it('accepts a valid token, checks scopes per interaction and transaction entry, and audits every call once', async () => {
  const write = await token('helsestasjon', 'system/Patient.cruds system/Task.rs');
  const headers = { authorization: `Bearer ${write}`, 'content-type': 'application/fhir+json' };
  let before = await audits();
  const created = await fetch(`${api}/Patient`, { method: 'POST', headers, body: JSON.stringify({ resourceType: 'Patient', birthDate: '1990-01-01', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } }) });
  expect(created.status).toBe(201);
  expect(await audits()).toBe(before + 1);

  before = await audits();
  const refused = await fetch(`${api}/Encounter`, { headers });
  expect(refused.status).toBe(403);
  expect(refused.headers.get('www-authenticate')).toMatch(/insufficient_scope/);
  expect(await audits()).toBe(before + 1);

  const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Task', status: 'requested', intent: 'order' }, request: { method: 'POST', url: 'Task' } }] };
  const tx = await fetch(api, { method: 'POST', headers, body: JSON.stringify(bundle) });
  expect(tx.status).toBe(403); // Task.rs does not allow creating Tasks
  expect((await store.search('Task', { _total: 'accurate', _count: '0' })).total).toBe(0);
});

it('keeps AuditEvents read-only through the API', async () => {
  const auditor = await token('helsestasjon', 'system/*.cruds');
  const response = await fetch(`${api}/AuditEvent`, {
    method: 'POST',
    headers: { authorization: `Bearer ${auditor}`, 'content-type': 'application/fhir+json' },
    body: JSON.stringify({ resourceType: 'AuditEvent' }),
  });
  expect(response.status).toBe(403);
  expect(((await response.json()) as { issue: { details: { text: string } }[] }).issue[0].details.text).toBe(
    'AuditEvent resources are written by the server only and can never be created, changed or deleted through the API',
  );
});

it('serves the CapabilityStatement without a token', async () => {
  expect((await fetch(`${api}/metadata`)).status).toBe(200);
});

/**
 * Where the family cache's tests keep the API's store, and how a second writer opens the same
 * database: on PGlite a store object beside the API's in one process (as the worker's activities in
 * `forlop start`), on a PostgreSQL server another connection pool (as forlop worker beside forlop
 * serve), where the cache learns of its writes from the generation its requests' statements bring.
 */
type Beside = { store: FhirStore; close: () => Promise<void> };
const familyBackends: [string, () => Promise<Db>, (db: Db) => Promise<Beside>][] = [
  // On PGlite the second store object shares the API's database, which the API's store closes.
  ['PGlite', async () => openPglite(), async (db) => ({ store: await FhirStore.open(db), close: async () => undefined })],
];
if (process.env.FORLOP_TEST_ACCESS_DATABASE_URL) {
  const url = process.env.FORLOP_TEST_ACCESS_DATABASE_URL;
  familyBackends.push([
    'PostgreSQL',
    async () => {
      const db = await openPostgres(url);
      await db.query('DROP SCHEMA IF EXISTS fhir CASCADE');
      return db;
    },
    async () => {
      const store = await FhirStore.open(await openPostgres(url));
      return { store, close: () => store.close() };
    },
  ]);
}

describe.each(familyBackends)('the family cache on %s', (_name, open, openBeside) => {
  let familyApi: string;
  let familyServer: Server;
  let familyStore: FhirStore;
  let beside: Beside;

  beforeAll(async () => {
    const db = await open();
    familyStore = await FhirStore.open(db);
    beside = await openBeside(db);
    ({ server: familyServer, api: familyApi } = await listenApi(familyStore));
  });
  afterAll(async () => {
    await new Promise((r) => familyServer.close(r));
    await beside.close();
    await familyStore.close();
  });

  /**
   * A family of Sarpsborg's, the headers of Sarpsborg's and Fredrikstad's clients, and `join`: the
   * family's care team takes in Fredrikstad, written beside the API; it returns how to let it go again.
   */
  async function familyWithChangingCareTeam() {
    const sarpsborg = { authorization: `Bearer ${await token('helsestasjon', 'system/*.cruds')}`, 'content-type': 'application/fhir+json' };
    const fredrikstad = { authorization: `Bearer ${await token('helsestasjon-fredrikstad', 'system/*.cruds')}`, 'content-type': 'application/fhir+json' };
    const mother = (await (
      await fetch(`${familyApi}/Patient`, { method: 'POST', headers: sarpsborg, body: JSON.stringify({ resourceType: 'Patient', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } }) })
    ).json()) as { id: string };
    const join = async () => {
      const team = await beside.store.create({
        resourceType: 'CareTeam',
        status: 'active',
        subject: { reference: `Patient/${mother.id}` },
        participant: [{ member: { reference: 'Organization/sarpsborg-helsestasjon' } }, { member: { reference: 'Organization/fredrikstad-helsestasjon' } }],
      });
      return async () => void (await beside.store.update({ ...team, participant: [team.participant![0]] }));
    };
    const observation = JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'EPDS' }, subject: { reference: `Patient/${mother.id}` }, valueInteger: 7 });
    return { sarpsborg, fredrikstad, mother, observation, join };
  }

  it("sees a change of a family's organisations at the next read, whoever wrote it", async () => {
    const { sarpsborg, fredrikstad, observation, join } = await familyWithChangingCareTeam();
    const observed = (await (await fetch(`${familyApi}/Observation`, { method: 'POST', headers: sarpsborg, body: observation })).json()) as { id: string };
    const read = async () => (await fetch(`${familyApi}/Observation/${observed.id}`, { headers: fredrikstad })).status;
    // Read twice: the second is answered from the family cache.
    expect([await read(), await read()]).toEqual([404, 404]);
    const leave = await join();
    expect([await read(), await read()]).toEqual([200, 200]);
    await leave();
    expect(await read()).toBe(404);
  });

  it("decides a write by the family's organisations as they are now, whoever changed them", async () => {
    const { fredrikstad, mother, observation, join } = await familyWithChangingCareTeam();
    const write = async () => (await fetch(`${familyApi}/Observation`, { method: 'POST', headers: fredrikstad, body: observation })).status;
    const observations = async () => (await familyStore.search('Observation', { subject: `Patient/${mother.id}`, _total: 'accurate', _count: '0' })).total;
    // Twice: the second check is answered from the family cache the writes share with the reads.
    expect([await write(), await write()]).toEqual([403, 403]);
    const leave = await join();
    expect([await write(), await write()]).toEqual([201, 201]);
    await leave();
    expect(await write()).toBe(403);
    expect(await observations()).toBe(2);
  });
});

it('records in the AuditEvent what a read hands out, whose records they are, and the legal basis when it names another organisation', async () => {
  const sarpsborg = { authorization: `Bearer ${await token('helsestasjon', 'system/*.cruds')}`, 'content-type': 'application/fhir+json' };
  const post = async (type: string, body: object) => ((await (await fetch(`${api}/${type}`, { method: 'POST', headers: sarpsborg, body: JSON.stringify(body) })).json()) as { id: string }).id;
  const mother = await post('Patient', { resourceType: 'Patient', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } });
  const handoff = await post('Task', {
    resourceType: 'Task',
    status: 'requested',
    intent: 'order',
    for: { reference: `Patient/${mother}` },
    requester: { reference: 'Organization/sarpsborg-helsestasjon' },
    owner: { reference: 'Organization/ostfold-familieambulatorium' },
  });
  const lastAudit = async (path: string) => {
    expect((await fetch(`${api}/${path}`, { headers: sarpsborg })).status).toBe(200);
    const [event] = (await store.search('AuditEvent', { _sort: '-_lastUpdated', _count: '1' })).resources as AuditEvent[];
    const organisation = event.agent.find((a) => a.who?.reference === 'Organization/sarpsborg-helsestasjon');
    return { entities: event.entity?.map((e) => e.what?.reference).sort(), policy: organisation?.policy, purpose: organisation?.purposeOfUse?.[0].coding?.[0].code };
  };
  const disclosed = { policy: ['https://lovdata.no/lov/1999-07-02-64/§45'], purpose: 'COC' };
  // The Task names the familieambulatorium as its owner: reading it discloses that organisation's handoff
  // (a read records the version it handed out too).
  // The mother it is about is named too (the patient slice), so her records' reads are found by patient.
  expect(await lastAudit(`Task/${handoff}`)).toEqual({ entities: ['Organization/ostfold-familieambulatorium', `Patient/${mother}`, `Task/${handoff}`, `Task/${handoff}/_history/1`], ...disclosed });
  // A search records each resource it hands out, whose they are, and the organisations they name.
  expect(await lastAudit(`Task?_id=${handoff},nothing`)).toEqual({ entities: ['Organization/ostfold-familieambulatorium', `Patient/${mother}`, `Task/${handoff}`], ...disclosed });
  // The family's own Patient names only the caller's organisation: no other organisation's data, no disclosure.
  expect(await lastAudit(`Patient/${mother}`)).toEqual({ entities: [`Patient/${mother}`, `Patient/${mother}/_history/1`], policy: undefined, purpose: 'TREAT' });
  // Who did what with her records: her creation, the Task's (a write names the family it is about), both reads and the search.
  const hers = (await store.search('AuditEvent', { patient: `Patient/${mother}` })).resources as AuditEvent[];
  expect(hers.map((e) => e.subtype?.[0].code).sort()).toEqual(['create', 'create', 'read', 'read', 'search-type']);
});

it("withholds another organisation's family from reads, searches, includes and histories", async () => {
  const sarpsborg = { authorization: `Bearer ${await token('helsestasjon', 'system/*.cruds')}`, 'content-type': 'application/fhir+json' };
  const fredrikstad = { authorization: `Bearer ${await token('helsestasjon-fredrikstad', 'system/*.cruds')}`, 'content-type': 'application/fhir+json' };
  const mother = (await (
    await fetch(`${api}/Patient`, { method: 'POST', headers: sarpsborg, body: JSON.stringify({ resourceType: 'Patient', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } }) })
  ).json()) as { id: string };
  const plan = { resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: { reference: `Patient/${mother.id}` }, author: { reference: 'Organization/sarpsborg-helsestasjon' } };
  expect((await fetch(`${api}/CarePlan`, { method: 'POST', headers: sarpsborg, body: JSON.stringify(plan) })).status).toBe(201);

  // The family's own organisation sees everything.
  expect((await fetch(`${api}/Patient/${mother.id}`, { headers: sarpsborg })).status).toBe(200);
  const own = (await (await fetch(`${api}/Patient?_id=${mother.id}&_revinclude=CarePlan:patient`, { headers: sarpsborg })).json()) as Bundle;
  expect(own.entry?.map((e) => e.resource?.resourceType).sort()).toEqual(['CarePlan', 'Patient']);
  // Also what it takes part in only through the family: an Observation naming no organisation.
  const observation = { resourceType: 'Observation', status: 'final', code: { text: 'EPDS' }, subject: { reference: `Patient/${mother.id}` }, valueInteger: 7 };
  const observed = (await (await fetch(`${api}/Observation`, { method: 'POST', headers: sarpsborg, body: JSON.stringify(observation) })).json()) as { id: string };
  expect((await fetch(`${api}/Observation/${observed.id}`, { headers: sarpsborg })).status).toBe(200);
  expect((await fetch(`${api}/Observation/${observed.id}`, { headers: fredrikstad })).status).toBe(404);
  const mixed = (await (await fetch(`${api}/Patient?_id=${mother.id}&_revinclude=Observation:subject&_revinclude=CarePlan:patient`, { headers: sarpsborg })).json()) as Bundle;
  expect(mixed.entry?.map((e) => e.resource?.resourceType).sort()).toEqual(['CarePlan', 'Observation', 'Patient']);

  // Another municipality sees nothing of it, each path asserted on its own.
  expect((await fetch(`${api}/Patient/${mother.id}`, { headers: fredrikstad })).status).toBe(404);
  expect((await fetch(`${api}/Patient/${mother.id}/_history`, { headers: fredrikstad })).status).toBe(404);
  expect((await fetch(`${api}/Patient/${mother.id}/_history/1`, { headers: fredrikstad })).status).toBe(404);
  const search = (await (await fetch(`${api}/CarePlan?subject=Patient/${mother.id}`, { headers: fredrikstad })).json()) as Bundle;
  expect(search.entry ?? []).toEqual([]);
  const revinclude = (await (await fetch(`${api}/Patient?_id=${mother.id}&_revinclude=CarePlan:patient`, { headers: fredrikstad })).json()) as Bundle;
  expect(revinclude.entry ?? []).toEqual([]);
  // Not even a count leaks: the total counts only what the caller may see (the store filters in its
  // query); the owner gets the exact one.
  const counted = (await (await fetch(`${api}/CarePlan?subject=Patient/${mother.id}&_total=accurate`, { headers: fredrikstad })).json()) as Bundle;
  expect(counted.total).toBe(0);
  expect(((await (await fetch(`${api}/CarePlan?subject=Patient/${mother.id}&_total=accurate`, { headers: sarpsborg })).json()) as Bundle).total).toBe(1);
  // Paging counts only what the caller may see: a next page when there is more of that.
  for (let i = 0; i < 2; i++) await fetch(`${api}/CarePlan`, { method: 'POST', headers: sarpsborg, body: JSON.stringify(plan) });
  const otherMother = (await (await fetch(`${api}/Patient`, { method: 'POST', headers: fredrikstad, body: JSON.stringify({ resourceType: 'Patient', managingOrganization: { reference: 'Organization/fredrikstad-helsestasjon' } }) })).json()) as { id: string };
  const theirs = { ...plan, subject: { reference: `Patient/${otherMother.id}` }, author: { reference: 'Organization/fredrikstad-helsestasjon' } };
  for (let i = 0; i < 2; i++) expect((await fetch(`${api}/CarePlan`, { method: 'POST', headers: fredrikstad, body: JSON.stringify(theirs) })).status).toBe(201);
  const firstPage = (await (await fetch(`${api}/CarePlan?_count=1&_sort=_lastUpdated`, { headers: fredrikstad })).json()) as Bundle;
  expect(firstPage.link?.some((l) => l.relation === 'next')).toBe(true);
  const wholePage = (await (await fetch(`${api}/CarePlan?_count=2&_sort=_lastUpdated&_total=accurate`, { headers: fredrikstad })).json()) as Bundle;
  expect(wholePage.entry?.map((e) => (e.resource as { subject?: { reference?: string } }).subject?.reference)).toEqual([`Patient/${otherMother.id}`, `Patient/${otherMother.id}`]);
  expect(wholePage.total).toBe(2);
  expect(wholePage.link?.some((l) => l.relation === 'next')).toBe(false);

  // ...and can change none of it: update, patch, delete, a transaction entry, a conditional update.
  // Each answers as for a resource that does not exist (the attack table, attacks.int.test.ts).
  const body = JSON.stringify({ resourceType: 'Patient', id: mother.id, managingOrganization: { reference: 'Organization/fredrikstad-helsestasjon' } });
  expect((await fetch(`${api}/Patient/${mother.id}`, { method: 'PUT', headers: fredrikstad, body })).status).toBe(409);
  expect((await fetch(`${api}/Patient/${mother.id}`, { method: 'PATCH', headers: { ...fredrikstad, 'content-type': 'application/json-patch+json' }, body: JSON.stringify([{ op: 'add', path: '/gender', value: 'female' }]) })).status).toBe(404);
  expect((await fetch(`${api}/Patient/${mother.id}`, { method: 'DELETE', headers: fredrikstad })).status).toBe(404);
  const tx = { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { ...plan, author: { reference: 'Organization/fredrikstad-helsestasjon' } }, request: { method: 'POST', url: 'CarePlan' } }] };
  expect((await fetch(api, { method: 'POST', headers: fredrikstad, body: JSON.stringify(tx) })).status).toBe(403);
  // A conditional update whose criteria match only the hidden Patient matches nothing: it creates Fredrikstad's own.
  const conditional = await fetch(`${api}/Patient?_id=${mother.id}`, { method: 'PUT', headers: fredrikstad, body });
  expect(conditional.status).toBe(201);
  expect(((await conditional.json()) as { id: string }).id).not.toBe(mother.id);
  expect((await fetch(`${api}/Patient/${mother.id}`, { headers: sarpsborg })).status).toBe(200);
  expect(((await (await fetch(`${api}/Patient/${mother.id}`, { headers: sarpsborg })).json()) as { meta: { versionId: string } }).meta.versionId).toBe('1');
});
