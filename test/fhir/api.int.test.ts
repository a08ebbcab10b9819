/**
 * The FHIR REST API over HTTP, on PGlite: round trips, the fault table
 * (each fault: exact status and issue text, nothing stored), transactions,
 * conditional headers and the CapabilityStatement.
 */
import type { Bundle, OperationOutcome, Patient, Task } from '@medplum/fhirtypes';
import { bareApi } from './bare-api';
import { SYSTEMS } from '../../fhir/norwegian-identifiers';

const api = bareApi();

const json = 'application/fhir+json';
const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(`${api.base}/${path}`, { method, headers: { 'content-type': json, ...headers }, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });

const patient: Patient = { resourceType: 'Patient', identifier: [{ system: SYSTEMS.fnr, value: '01019000083' }], birthDate: '1990-01-01' };
const task = (patientId: string, extra: Partial<Task> = {}): Task => ({ resourceType: 'Task', status: 'requested', intent: 'order', for: { reference: `Patient/${patientId}` }, owner: { reference: 'Organization/familieambulatorium' }, ...extra });

async function count(type: string): Promise<number> {
  const r = await fetch(`${api.base}/${type}?_total=accurate&_count=0`);
  return ((await r.json()) as Bundle).total!;
}

it('round-trips a resource with ETag, Location (Content-Location for a read) and Last-Modified, and versions it', async () => {
  const created = await send('POST', 'Patient', patient);
  expect(created.status).toBe(201);
  expect(created.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  const body = (await created.json()) as Patient;
  expect(created.headers.get('etag')).toBe('W/"1"');
  expect(created.headers.get('location')).toBe(`${api.base}/Patient/${body.id}/_history/1`);
  expect(created.headers.get('last-modified')).toBeTruthy();
  const read = await fetch(`${api.base}/Patient/${body.id}`);
  expect(await read.json()).toEqual(body);
  // A read is not a redirect: it names the version it hands out in Content-Location, not Location.
  expect(read.headers.get('content-location')).toBe(`${api.base}/Patient/${body.id}/_history/1`);
  expect(read.headers.get('location')).toBeNull();
  expect(read.headers.get('etag')).toBe('W/"1"');
  const updated = await send('PUT', `Patient/${body.id}`, { ...body, birthDate: '1990-01-02' }, { 'if-match': 'W/"1"' });
  expect(updated.status).toBe(200);
  const stale = await send('PUT', `Patient/${body.id}`, { ...body, birthDate: '1990-01-03' }, { 'if-match': 'W/"1"' });
  expect(stale.status).toBe(412);
  const history = (await (await fetch(`${api.base}/Patient/${body.id}/_history`)).json()) as Bundle;
  expect(history.entry?.map((e) => e.response?.etag)).toEqual(['W/"2"', 'W/"1"']);
  expect((await fetch(`${api.base}/Patient/${body.id}/_history/1`)).status).toBe(200);
  expect((await send('DELETE', `Patient/${body.id}`)).status).toBe(204);
  expect((await fetch(`${api.base}/Patient/${body.id}`)).status).toBe(410);
});

describe('the fault table: exact status and issue, nothing stored', () => {
  const cases: [string, () => Promise<Response>, number, string, string | undefined][] = [
    ['bad code', () => send('POST', 'Task', task('p', { status: 'bogus' as Task['status'] })), 422, "Invalid code: must be one of 'draft', 'requested', 'received', 'accepted', 'rejected', 'ready', 'cancelled', 'in-progress', 'on-hold', 'failed', 'completed', 'entered-in-error'", 'Task.status'],
    ['missing status', () => send('POST', 'Task', (({ status: _s, ...t }) => t)(task('p'))), 422, 'Missing required property', 'Task.status'],
    ['bad fødselsnummer check digit', () => send('POST', 'Patient', { ...patient, identifier: [{ system: SYSTEMS.fnr, value: '01019000084' }] }), 422, 'Invalid fødselsnummer: has wrong check digits (mod 11)', 'Patient.identifier[0].value'],
    ['wrong reference type', () => send('POST', 'Task', task('p', { focus: { reference: 'Patient/p' }, owner: { reference: 'Task/t' } })), 422, 'Invalid reference for Task.owner: Task is not one of Practitioner, PractitionerRole, Organization, CareTeam, HealthcareService, Patient, Device, RelatedPerson', 'Task.owner'],
    ['malformed JSON', () => send('POST', 'Task', '{"resourceType": "Task",'), 400, 'Malformed JSON: the request body is not valid JSON', undefined],
    ['wrong content type', () => send('POST', 'Task', JSON.stringify(task('p')), { 'content-type': 'text/plain' }), 415, 'Unsupported content type text/plain: use application/fhir+json', undefined],
    ['oversized body', () => send('POST', 'Task', { ...task('p'), note: [{ text: 'x'.repeat(2_000_000) }] }), 413, 'Request body is larger than 1mb', undefined],
    ['type mismatch', () => send('POST', 'Task', patient), 400, 'The body is a Patient but the URL names Task', 'resourceType'],
    ['unknown search parameter', () => fetch(`${api.base}/Task?colour=red`), 400, "Unsupported search parameter 'colour' for Task; see GET /fhir/metadata for the supported ones", 'colour'],
  ];
  it.each(cases)('%s', async (_name, request, status, text, expression) => {
    const before = await count('Task');
    const response = await request();
    expect(response.status).toBe(status);
    const outcome = (await response.json()) as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    const issue = outcome.issue.find((i) => i.details?.text === text);
    expect(issue ?? outcome.issue).toMatchObject({ details: { text } });
    expect(issue?.expression?.[0]).toBe(expression);
    expect(await count('Task')).toBe(before);
  });
});

it('runs a transaction Bundle and stores nothing when one entry is bad', async () => {
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl: 'urn:uuid:aaaaaaaa-0000-4000-8000-000000000001', resource: patient, request: { method: 'POST', url: 'Patient' } },
      { resource: task('x', { for: { reference: 'urn:uuid:aaaaaaaa-0000-4000-8000-000000000001' } }), request: { method: 'POST', url: 'Task' } },
    ],
  };
  const before = [await count('Patient'), await count('Task')];
  const bad = await send('POST', '', { ...bundle, entry: [bundle.entry![0], { ...bundle.entry![1], resource: task('x', { intent: 'wish' as Task['intent'] }) }] });
  expect(bad.status).toBe(422);
  expect(((await bad.json()) as OperationOutcome).issue[0].expression).toEqual(['Bundle.entry[1].resource.intent']);
  expect([await count('Patient'), await count('Task')]).toEqual(before);
  const ok = await send('POST', '', bundle);
  expect(ok.status).toBe(200);
  const response = (await ok.json()) as Bundle;
  expect(response.type).toBe('transaction-response');
  expect((response.entry![1].resource as Task).for?.reference).toBe(`Patient/${response.entry![0].resource!.id}`);
});

it('searches with GET and POST _search, pages with next links, and validates with $validate', async () => {
  const p = (await (await send('POST', 'Patient', patient)).json()) as Patient;
  for (let i = 0; i < 3; i++) await send('POST', 'Task', task(p.id!));
  const page = (await (await fetch(`${api.base}/Task?patient=Patient/${p.id}&_count=2&_total=accurate`)).json()) as Bundle;
  expect(page.total).toBe(3);
  expect(page.entry).toHaveLength(2);
  const next = page.link!.find((l) => l.relation === 'next')!.url;
  expect(((await (await fetch(next)).json()) as Bundle).entry).toHaveLength(1);
  const posted = await fetch(`${api.base}/Task/_search`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `patient=Patient/${p.id}` });
  // The form the spec names for POST _search (https://hl7.org/fhir/R4/http.html#search).
  expect(posted.status).toBe(200);
  expect(((await posted.json()) as Bundle).entry?.length).toBeGreaterThan(0);
  const validated = (await (await send('POST', 'Task/$validate', task('p', { status: 'bogus' as Task['status'] }))).json()) as OperationOutcome;
  expect(validated.issue[0].expression).toEqual(['Task.status']);
});

it('serves a CapabilityStatement listing the supported resources and search parameters', async () => {
  const cs = (await (await fetch(`${api.base}/metadata`)).json()) as { resourceType: string; rest: { resource: { type: string; searchParam: { name: string }[] }[] }[] };
  expect(cs.resourceType).toBe('CapabilityStatement');
  const taskRes = cs.rest[0].resource.find((r: { type: string }) => r.type === 'Task');
  expect(taskRes!.searchParam.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['_id', 'patient', 'owner', 'status', 'focus', 'based-on']));
});

it('supports conditional create, conditional update and JSON Patch', async () => {
  const identified = { ...patient, identifier: [{ system: SYSTEMS.dnr, value: '41019000077' }] };
  const ifNoneExist = { 'if-none-exist': `identifier=${SYSTEMS.dnr}|41019000077` };
  const first = await send('POST', 'Patient', identified, ifNoneExist);
  expect(first.status).toBe(201);
  const id = ((await first.json()) as Patient).id;
  const again = await send('POST', 'Patient', identified, ifNoneExist);
  expect(again.status).toBe(200);
  expect(((await again.json()) as Patient).id).toBe(id);

  const updated = await send('PUT', `Patient?identifier=${encodeURIComponent(`${SYSTEMS.dnr}|41019000077`)}`, { ...identified, birthDate: '1990-02-02' });
  expect(updated.status).toBe(200);
  expect(((await updated.json()) as Patient)).toMatchObject({ id, birthDate: '1990-02-02', meta: { versionId: '2' } });

  const patch = (ops: unknown) => fetch(`${api.base}/Patient/${id}`, { method: 'PATCH', headers: { 'content-type': 'application/json-patch+json' }, body: JSON.stringify(ops) });
  const patched = await patch([{ op: 'replace', path: '/birthDate', value: '1990-03-03' }]);
  expect(patched.status).toBe(200);
  expect(((await patched.json()) as Patient).birthDate).toBe('1990-03-03');
  const invalid = await patch([{ op: 'replace', path: '/birthDate', value: 'last spring' }]);
  expect(invalid.status).toBe(422);
  expect(((await invalid.json()) as OperationOutcome).issue[0].expression).toEqual(['Patient.birthDate']);
  const failedTest = await patch([{ op: 'test', path: '/birthDate', value: '2000-01-01' }]);
  expect(failedTest.status).toBe(422);
  expect(((await (await fetch(`${api.base}/Patient/${id}`)).json()) as Patient).birthDate).toBe('1990-03-03');
});

it('runs a batch: each entry on its own, a bad one answered with its OperationOutcome', async () => {
  const response = await send('POST', '', {
    resourceType: 'Bundle',
    type: 'batch',
    entry: [
      { resource: patient, request: { method: 'POST', url: 'Patient' } },
      { resource: task('p', { status: 'bogus' as Task['status'] }), request: { method: 'POST', url: 'Task' } },
      { request: { method: 'GET', url: 'Patient/does-not-exist' } },
    ],
  });
  expect(response.status).toBe(200);
  const bundle = (await response.json()) as Bundle;
  expect(bundle.type).toBe('batch-response');
  expect(bundle.entry?.map((e) => e.response?.status)).toEqual(['201', '422', '404']);
  expect((bundle.entry![1].response!.outcome as OperationOutcome).issue[0].expression).toEqual(['Task.status']);
});

it("refuses Task moves FHIR's Task state machine does not allow, with the allowed next states, and stores nothing", async () => {
  const created = (await (await send('POST', 'Task', task('p1'))).json()) as Task;
  const put = (status: Task['status'], body: Task = created) => send('PUT', `Task/${created.id}`, { ...body, status });
  const skipped = await put('completed');
  expect(skipped.status).toBe(422);
  expect(((await skipped.json()) as OperationOutcome).issue).toEqual([
    {
      severity: 'error',
      code: 'business-rule',
      details: { text: 'A Task cannot go from requested to completed; allowed next: received, accepted, rejected, cancelled, on-hold, failed, ready' },
      diagnostics: 'A Task cannot go from requested to completed; allowed next: received, accepted, rejected, cancelled, on-hold, failed, ready',
      expression: ['Task.status'],
    },
  ]);
  for (const status of ['received', 'accepted', 'in-progress', 'completed'] as const) expect((await put(status)).status).toBe(200);
  const back = await send('PATCH', `Task/${created.id}`, [{ op: 'replace', path: '/status', value: 'in-progress' }], { 'content-type': 'application/json-patch+json' });
  expect(back.status).toBe(422);
  expect(((await back.json()) as OperationOutcome).issue?.[0]?.details?.text).toBe('A Task cannot go from completed to in-progress; allowed next: none (the Task is finished)');
  expect(((await (await fetch(`${api.base}/Task/${created.id}`)).json()) as Task).meta?.versionId).toBe('5');
});
