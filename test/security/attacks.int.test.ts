/**
 * The attack table (issue #20): a hostile but authenticated second
 * municipality (the demo client `helsestasjon-fredrikstad`, scope
 * `system/*.cruds`) attacks one family enrolled by `helsestasjon`
 * (Sarpsborg), using only the documented API, against the stack `forlop
 * start` composes (app/http.ts) with the real dev OIDC provider. Each case
 * is one attack; the held ones (reads by id, history, plain searches, batch
 * GETs, tokens) are in fhir-api.int.test.ts and auth.int.test.ts.
 *
 * "Indistinguishable" is asserted by sending the same request about the
 * hidden resource and about one that does not exist, and comparing the answers.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import type { AuditEvent, Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { buildHttpApp } from '../../app/http';
import { DEV_ORGANISATIONS, startDevIdp, type DevIdp } from '../../app/dev-idp';
import { createLogger } from '../../app/logging';
import { sdkLogger } from '../../app/temporal-logging';
import { FhirStore, openPglite } from '../../fhir/store';
import { clientToken } from './harness';

const FNR = 'urn:oid:2.16.578.1.12.4.1.4.1';
/** The mother's fødselsnummer (synthetic, valid check digits); and one nobody holds. */
const MOTHER_FNR = '15059000141';
const NOBODY_FNR = '15059000222';
/** Another of Sarpsborg's mothers, whom no case below registers again (case 1 makes Fredrikstad a record of the first). */
const SISTER_FNR = '02029000436';
/** A third, for the batch case; and one nobody holds there. */
const COUSIN_FNR = '02029000517';
const NOBODY_ELSE_FNR = '01019000164';
const UNKNOWN_ID = '5d1c7e0e-2a43-4b8e-9a51-0c7c4a3e9f00';

let idp: DevIdp;
let store: FhirStore;
let server: Server;
let api: string;
type Headers = Record<string, string>;
let sarpsborg: Headers;
let fredrikstad: Headers;
/** The family's records, as Sarpsborg stored them. */
const family: Record<'mother' | 'sister' | 'cousin' | 'observation' | 'episode' | 'answers' | 'plan' | 'task', Resource> = {} as never;
/** Fredrikstad's own patient, for resources it may legitimately write. */
let ownPatient: Resource;

const token = (client: string, scope: string) => clientToken(idp.tokenEndpoint, client, scope);

async function call(method: string, path: string, headers: Headers, body?: unknown, extra: Headers = {}): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  const response = await fetch(`${api}/${path}`, { method, headers: { ...headers, ...extra }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

async function create<T extends Resource>(headers: Headers, resource: T): Promise<T> {
  const { status, body } = await call('POST', resource.resourceType, headers, resource);
  if (status !== 201) throw new Error(`setup: ${resource.resourceType} not created (${status}): ${JSON.stringify(body)}`);
  return body as unknown as T;
}

/** An answer with the ids it names made neutral, for comparing the answer about a hidden resource with one about none. */
function shape(answer: { status: number; body: Record<string, unknown> | undefined }, ...ids: string[]): string {
  let text = JSON.stringify({ status: answer.status, issue: (answer.body as OperationOutcome | undefined)?.issue });
  for (const id of ids) text = text.split(id).join('<id>');
  return text;
}

/** The AuditEvents Fredrikstad can read that were recorded at or after `since`. */
async function fredrikstadAuditSince(since: string): Promise<AuditEvent[]> {
  const { body } = await call('GET', `AuditEvent?date=ge${encodeURIComponent(since)}&_count=1000`, fredrikstad);
  return ((body as unknown as Bundle | undefined)?.entry ?? []).map((e) => e.resource as AuditEvent);
}

const ownTask = () => ({ resourceType: 'Task', status: 'requested', intent: 'order', for: { reference: `Patient/${ownPatient.id}` }, requester: { reference: 'Organization/fredrikstad-helsestasjon' }, owner: { reference: 'Organization/fredrikstad-helsestasjon' } });

/** A resource of `type` Fredrikstad may write: about its own patient, naming itself. */
function own(type: string): Resource {
  const subject = { reference: `Patient/${ownPatient.id}` };
  const org = { reference: 'Organization/fredrikstad-helsestasjon' };
  switch (type) {
    case 'Observation':
      return { resourceType: 'Observation', status: 'final', code: { text: 'EPDS' }, subject, performer: [org], valueInteger: 3 };
    case 'EpisodeOfCare':
      return { resourceType: 'EpisodeOfCare', status: 'active', patient: subject, managingOrganization: org };
    case 'QuestionnaireResponse':
      return { resourceType: 'QuestionnaireResponse', status: 'completed', subject, author: org };
    case 'CarePlan':
      return { resourceType: 'CarePlan', status: 'active', intent: 'plan', subject, author: org };
    default:
      return ownTask() as Resource;
  }
}

beforeAll(async () => {
  idp = await startDevIdp();
  store = await FhirStore.open(await openPglite());
  const app = await buildHttpApp({ store, publicUrl: 'http://127.0.0.1', auth: { issuer: idp.issuer, audience: 'forlop-api', requireDpop: false, organisations: { ...DEV_ORGANISATIONS } } });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
  sarpsborg = { authorization: `Bearer ${await token('helsestasjon', 'system/*.cruds')}`, 'content-type': 'application/fhir+json' };
  fredrikstad = { authorization: `Bearer ${await token('helsestasjon-fredrikstad', 'system/*.cruds')}`, 'content-type': 'application/fhir+json' };

  const org = { reference: 'Organization/sarpsborg-helsestasjon' };
  family.mother = await create(sarpsborg, { resourceType: 'Patient', identifier: [{ system: FNR, value: MOTHER_FNR }], name: [{ family: 'Hemmelig', given: ['Kari'] }], birthDate: '1990-05-15', managingOrganization: org });
  family.sister = await create(sarpsborg, { resourceType: 'Patient', identifier: [{ system: FNR, value: SISTER_FNR }], birthDate: '1990-02-02', managingOrganization: org });
  family.cousin = await create(sarpsborg, { resourceType: 'Patient', identifier: [{ system: FNR, value: COUSIN_FNR }], birthDate: '1990-02-02', managingOrganization: org });
  const subject = { reference: `Patient/${family.mother.id}` };
  family.observation = await create(sarpsborg, { resourceType: 'Observation', status: 'final', code: { text: 'EPDS' }, subject, valueInteger: 14 });
  family.episode = await create(sarpsborg, { resourceType: 'EpisodeOfCare', status: 'active', patient: subject, managingOrganization: org, period: { start: '2026-01-01', end: '2026-10-01' } });
  family.answers = await create(sarpsborg, { resourceType: 'QuestionnaireResponse', status: 'completed', subject, author: org, item: [{ linkId: '10', answer: [{ valueInteger: 3 }] }] });
  family.plan = await create(sarpsborg, { resourceType: 'CarePlan', status: 'active', intent: 'plan', subject, author: org });
  family.task = await create(sarpsborg, { resourceType: 'Task', status: 'requested', intent: 'order', for: subject, requester: org, owner: org });
  await create(sarpsborg, { resourceType: 'Task', status: 'requested', intent: 'order', for: subject, requester: org, owner: org });
  ownPatient = await create(fredrikstad, { resourceType: 'Patient', birthDate: '1991-02-02', managingOrganization: { reference: 'Organization/fredrikstad-helsestasjon' } });
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await store.close();
  await idp.stop();
});

describe('1. conditional create matches only what the caller may see', () => {
  it("does not hand out another organisation's Patient for If-None-Exist on her national id: the answer is the one for a person nobody holds", async () => {
    const body = { resourceType: 'Patient', identifier: [{ system: FNR, value: MOTHER_FNR }], managingOrganization: { reference: 'Organization/fredrikstad-helsestasjon' } };
    const hidden = await call('POST', 'Patient', fredrikstad, body, { 'if-none-exist': `identifier=${FNR}|${MOTHER_FNR}` });
    const nobody = await call('POST', 'Patient', fredrikstad, { ...body, identifier: [{ system: FNR, value: NOBODY_FNR }] }, { 'if-none-exist': `identifier=${FNR}|${NOBODY_FNR}` });
    expect(hidden.status).toBe(201);
    expect(nobody.status).toBe(201);
    expect(hidden.body?.id).not.toBe(family.mother.id);
    expect(JSON.stringify(hidden.body)).not.toContain('Hemmelig');
    expect(hidden.body?.birthDate).toBeUndefined();
    // The family's own Patient is untouched, and the family's organisation still finds only hers under her id.
    const own = (await call('GET', `Patient?identifier=${FNR}|${MOTHER_FNR}&_total=accurate`, sarpsborg)).body as unknown as Bundle;
    expect(own.total).toBe(1);
    expect(own.entry?.[0].resource?.id).toBe(family.mother.id);
  });

  it.each(['Observation', 'EpisodeOfCare', 'QuestionnaireResponse', 'CarePlan', 'Task'])('does not hand out a hidden %s for If-None-Exist: it answers as for an id that does not exist', async (type) => {
    const key = { Observation: 'observation', EpisodeOfCare: 'episode', QuestionnaireResponse: 'answers', CarePlan: 'plan', Task: 'task' }[type] as keyof typeof family;
    const hidden = await call('POST', type, fredrikstad, own(type), { 'if-none-exist': `_id=${family[key].id}` });
    const absent = await call('POST', type, fredrikstad, own(type), { 'if-none-exist': `_id=${UNKNOWN_ID}` });
    expect([hidden.status, absent.status]).toEqual([201, 201]);
    expect(hidden.body?.id).not.toBe(family[key].id);
    expect(hidden.body?.meta).toMatchObject({ versionId: '1' });
  });

  it("does not answer 412 for a Task criterion that matches several of another organisation's Tasks", async () => {
    const hidden = await call('POST', 'Task', fredrikstad, ownTask(), { 'if-none-exist': `patient=Patient/${family.mother.id}` });
    const absent = await call('POST', 'Task', fredrikstad, ownTask(), { 'if-none-exist': `patient=Patient/${UNKNOWN_ID}` });
    expect([hidden.status, absent.status]).toEqual([201, 201]);
  });

  it("does not hand out another organisation's Patient through a batch entry's ifNoneExist", async () => {
    const entry = (fnr: string) => ({
      resource: { resourceType: 'Patient', identifier: [{ system: FNR, value: fnr }], managingOrganization: { reference: 'Organization/fredrikstad-helsestasjon' } },
      request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${FNR}|${fnr}` },
    });
    const { status, body } = await call('POST', '', fredrikstad, { resourceType: 'Bundle', type: 'batch', entry: [entry(COUSIN_FNR), entry(NOBODY_ELSE_FNR)] });
    expect(status).toBe(200);
    const [hidden, nobody] = (body as unknown as Bundle).entry!;
    expect([hidden.response?.status, nobody.response?.status]).toEqual(['201', '201']);
    expect(hidden.resource?.id).not.toBe(family.cousin.id);
    expect((hidden.resource as { birthDate?: string } | undefined)?.birthDate).toBeUndefined();
  });
});

describe('2. counts and paging count only what the caller may see', () => {
  it('answers _total=accurate with the number of visible matches: 0 for a person enrolled elsewhere, as for one enrolled nowhere', async () => {
    const hidden = (await call('GET', `Patient?identifier=${FNR}|${SISTER_FNR}&_total=accurate`, fredrikstad)).body as unknown as Bundle;
    const nobody = (await call('GET', `Patient?identifier=${FNR}|15059000303&_total=accurate`, fredrikstad)).body as unknown as Bundle;
    expect(hidden.total).toBe(0);
    expect(nobody.total).toBe(0);
    expect(hidden.entry ?? []).toEqual([]);
  });

  it('links to a next page only when there are more visible matches', async () => {
    const hidden = (await call('GET', `Observation?subject=Patient/${family.mother.id}&_count=1`, fredrikstad)).body as unknown as Bundle;
    expect(hidden.link?.map((l) => l.relation)).toEqual(['self', 'first']);
    const tasks = (await call('GET', `Task?patient=Patient/${family.mother.id}&_count=1&_total=accurate`, sarpsborg)).body as unknown as Bundle;
    expect(tasks.total).toBe(2);
    expect(tasks.link?.map((l) => l.relation)).toEqual(['self', 'first', 'next', 'last']);
    // The last page is found from the visible total: the second Task.
    expect(tasks.link?.find((l) => l.relation === 'last')?.url).toMatch(/_offset=1$/);
  });
});

describe('3. a hidden resource answers as an absent one, and the AuditEvents the caller can read do not name it', () => {
  it('conditional update: the same answer as for criteria nothing matches, and no AuditEvent of the caller names the hidden Patient', async () => {
    const since = new Date().toISOString();
    const body = { resourceType: 'Patient', managingOrganization: { reference: 'Organization/fredrikstad-helsestasjon' } };
    const hidden = await call('PUT', `Patient?identifier=${FNR}|${SISTER_FNR}`, fredrikstad, body);
    const nobody = await call('PUT', `Patient?identifier=${FNR}|15059000303`, fredrikstad, body);
    expect(hidden.status).toBe(201);
    expect(nobody.status).toBe(hidden.status);
    expect(hidden.body?.id).not.toBe(family.sister.id);
    const events = await fredrikstadAuditSince(since);
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(events)).not.toContain(family.sister.id!);
  });

  it('DELETE: the same answer for a hidden id as for one that never existed', async () => {
    const hidden = await call('DELETE', `Patient/${family.mother.id}`, fredrikstad);
    const absent = await call('DELETE', `Patient/${UNKNOWN_ID}`, fredrikstad);
    expect(hidden.status).toBe(404);
    expect(shape(hidden, family.mother.id!)).toBe(shape(absent, UNKNOWN_ID));
  });

  it('PUT to a hidden id (update as create): refused as a taken id, not as a resource of another family', async () => {
    const body = (id: string) => ({ resourceType: 'Patient', id, managingOrganization: { reference: 'Organization/fredrikstad-helsestasjon' } });
    const hidden = await call('PUT', `Patient/${family.mother.id}`, fredrikstad, body(family.mother.id!));
    expect(hidden.status).toBe(409);
    expect(shape(hidden, family.mother.id!)).toBe(JSON.stringify({ status: 409, issue: [{ severity: 'error', code: 'conflict', details: { text: 'Patient/<id> already exists' }, diagnostics: 'Patient/<id> already exists' }] }));
    expect((await call('GET', `Patient/${family.mother.id}`, sarpsborg)).body?.meta).toMatchObject({ versionId: '1' });
    // A free id is created, as update as create does (the pathway worker writes so through the API).
    expect((await call('PUT', `Patient/${UNKNOWN_ID}`, fredrikstad, body(UNKNOWN_ID))).status).toBe(201);
  });

  it('a transaction GET entry: the same answer for a hidden id as for an unknown one', async () => {
    const bundle = (id: string) => ({ resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'GET', url: `Patient/${id}` } }] });
    const hidden = await call('POST', '', fredrikstad, bundle(family.mother.id!));
    const absent = await call('POST', '', fredrikstad, bundle(UNKNOWN_ID));
    expect(hidden.status).toBe(400);
    expect(shape(hidden, family.mother.id!)).toBe(shape(absent, UNKNOWN_ID));
  });

  it('a transaction DELETE entry: the same answer for a hidden id as for an unknown one', async () => {
    const unknown = '0b6a1a9e-7f3c-4d2e-8c1b-3e5f7a9c1d20';
    const bundle = (id: string) => ({ resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'DELETE', url: `Patient/${id}` } }] });
    const hidden = await call('POST', '', fredrikstad, bundle(family.mother.id!));
    const absent = await call('POST', '', fredrikstad, bundle(unknown));
    expect(hidden.status).toBe(404);
    expect(shape(hidden, family.mother.id!)).toBe(shape(absent, unknown));
  });
});

describe('4. a write may not move a record out of the writer’s reach', () => {
  it("refuses a PUT that gives the writer's own Patient to another organisation", async () => {
    const patient = await create<Resource>(fredrikstad, { resourceType: 'Patient', managingOrganization: { reference: 'Organization/fredrikstad-helsestasjon' } });
    const moved = await call('PUT', `Patient/${patient.id}`, fredrikstad, { ...patient, managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } });
    expect(moved.status).toBe(403);
    expect(JSON.stringify(moved.body)).toMatch(/writer's reach/);
    const planted = await call('POST', 'Patient', fredrikstad, { resourceType: 'Patient', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } });
    expect(planted.status).toBe(403);
  });

  it("refuses a PATCH that hands the writer's own Task to another organisation as requester and owner, and still allows a handoff", async () => {
    const task = await create(fredrikstad, ownTask() as Resource);
    const patched = await fetch(`${api}/Task/${task.id}`, {
      method: 'PATCH',
      headers: { ...fredrikstad, 'content-type': 'application/json-patch+json' },
      body: JSON.stringify([
        { op: 'replace', path: '/requester', value: { reference: 'Organization/sarpsborg-helsestasjon' } },
        { op: 'replace', path: '/owner', value: { reference: 'Organization/sarpsborg-helsestasjon' } },
      ]),
    });
    expect(patched.status).toBe(403);
    // A handoff names both: the requester stays in it.
    const handoff = await call('POST', 'Task', fredrikstad, { ...ownTask(), owner: { reference: 'Organization/sarpsborg-helsestasjon' } });
    expect(handoff.status).toBe(201);
  });
});

describe('5. a birth is registered only by an organisation of the mother’s family', () => {
  it("refuses a Patient whose link.other names another family's mother, as one naming nobody, and lets the family's organisation register it", async () => {
    const child = (mother: string, org: string) => ({ resourceType: 'Patient', birthDate: '2026-11-01', managingOrganization: { reference: org }, link: [{ other: { reference: `Patient/${mother}` }, type: 'seealso' }] });
    const forged = await call('POST', 'Patient', fredrikstad, child(family.mother.id!, 'Organization/fredrikstad-helsestasjon'));
    const nobodysId = randomUUID();
    const nobody = await call('POST', 'Patient', fredrikstad, child(nobodysId, 'Organization/fredrikstad-helsestasjon'));
    expect(forged.status).toBe(403);
    expect(shape(forged, family.mother.id!)).toBe(shape(nobody, nobodysId));
    expect((await call('POST', 'Patient', sarpsborg, child(family.mother.id!, 'Organization/sarpsborg-helsestasjon'))).status).toBe(201);
  });
});

describe('6. _include and _revinclude need the scope of the included type', () => {
  it('leaves out included Patients for a Task-only token, with an OperationOutcome saying so', async () => {
    const tasksOnly = { authorization: `Bearer ${await token('helsestasjon', 'system/Task.rs')}` };
    expect((await call('GET', 'Patient', tasksOnly)).status).toBe(403);
    const { status, body } = await call('GET', `Task?patient=Patient/${family.mother.id}&_include=Task:patient`, tasksOnly);
    expect(status).toBe(200);
    const entries = (body as unknown as Bundle).entry ?? [];
    expect(entries.filter((e) => e.search?.mode === 'match').length).toBe(2);
    expect(entries.some((e) => e.resource?.resourceType === 'Patient')).toBe(false);
    const outcome = entries.find((e) => e.search?.mode === 'outcome')?.resource as OperationOutcome;
    expect(outcome.issue[0].details?.text ?? outcome.issue[0].diagnostics).toMatch(/Patient/);
    // With the Patient scope as well, the Patient is included.
    const both = { authorization: `Bearer ${await token('helsestasjon', 'system/Task.rs system/Patient.rs')}` };
    const included = (await call('GET', `Task?patient=Patient/${family.mother.id}&_include=Task:patient`, both)).body as unknown as Bundle;
    expect(included.entry?.some((e) => e.resource?.resourceType === 'Patient')).toBe(true);
  });
});

describe("7. the family's organisation sees who tried its records, and no AuditEvent holds a national id in its query", () => {
  it("lets the family's organisation read another organisation's refused attempts on the mother", async () => {
    expect((await call('GET', `Patient/${family.mother.id}`, fredrikstad)).status).toBe(404);
    const { body } = await call('GET', `AuditEvent?patient=Patient/${family.mother.id}&_count=1000`, sarpsborg);
    const attempts = ((body as unknown as Bundle).entry ?? []).map((e) => e.resource as AuditEvent).filter((e) => e.agent.some((a) => a.who?.identifier?.value === '910000055'));
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.some((e) => e.outcome === '4')).toBe(true);
  });

  it('records a search by national id without the number', async () => {
    const since = new Date().toISOString();
    await call('GET', `Patient?identifier=${FNR}|${SISTER_FNR}`, fredrikstad);
    const events = await fredrikstadAuditSince(since);
    const queries = events.flatMap((e) => e.entity ?? []).filter((e) => e.query).map((e) => Buffer.from(e.query!, 'base64').toString('utf8'));
    expect(queries.some((q) => q.startsWith('identifier='))).toBe(true);
    expect(queries.join(' ')).not.toContain(SISTER_FNR);
    expect(JSON.stringify(events)).not.toContain(SISTER_FNR);
  });
});

describe('8. the Temporal SDK logs through the redacting logger', () => {
  it("redacts a national id in the SDK's own 'Activity failed' line", async () => {
    const lines: string[] = [];
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => lines.push(chunk.toString('utf8')));
    const logger = sdkLogger(createLogger({ destination, level: 'trace' }));
    const error = new Error(`Patient with fødselsnummer ${MOTHER_FNR} not found`);
    logger.warn('Activity failed', { activityType: 'readPatient', error });
    logger.log('ERROR', `Workflow task failed for ${MOTHER_FNR}`, {});
    await new Promise((r) => setImmediate(r));
    expect(lines.length).toBe(2);
    expect(lines.join('')).not.toContain(MOTHER_FNR);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'warn', msg: 'Activity failed', activityType: 'readPatient' });
  });
});
