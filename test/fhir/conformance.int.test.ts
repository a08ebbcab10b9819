/**
 * What a FHIR client checks before and while it talks to the API (issue #25,
 * "Conformance"): discovery (CapabilityStatement.rest.security, software,
 * implementation, only the interactions a client can use, SMART
 * configuration without auth), POST _search as a form, _count checking,
 * paging links, Prefer: return, JSON only (406), Allow on 405 and
 * OperationOutcome diagnostics. The stack with authentication is the one
 * `forlop start` builds (app/http.ts) with the dev IdP; the rest runs on the
 * bare API over PGlite.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Bundle, CapabilityStatement, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { buildHttpApp } from '../../app/http';
import { DEV_ORGANISATIONS, startDevIdp, type DevIdp } from '../../app/dev-idp';
import { createApp } from '../../server/app';
import { FhirStore, openPglite } from '../../fhir/store';

const json = 'application/fhir+json';

async function listen(app: import('express').Express): Promise<{ server: Server; base: string }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir` };
}

describe('discovery through the stack of forlop start', () => {
  let idp: DevIdp;
  let store: FhirStore;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    idp = await startDevIdp();
    store = await FhirStore.open(await openPglite());
    ({ server, base } = await listen(await buildHttpApp({ store, publicUrl: 'http://127.0.0.1', auth: { issuer: idp.issuer, audience: 'forlop-api', requireDpop: false, organisations: { ...DEV_ORGANISATIONS } } })));
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await store.close();
    await idp.stop();
  });

  it('serves the SMART configuration without a token, naming the token endpoint', async () => {
    const response = await fetch(`${base}/.well-known/smart-configuration`);
    expect(response.status).toBe(200);
    const config = (await response.json()) as Record<string, unknown>;
    expect(config).toMatchObject({ issuer: idp.issuer, token_endpoint: idp.tokenEndpoint, grant_types_supported: ['client_credentials'] });
  });

  it('declares security, software and implementation, and only the interactions some client can be allowed', async () => {
    const statement = (await (await fetch(`${base}/metadata`)).json()) as CapabilityStatement;
    expect(statement.software).toEqual({ name: 'Forløp', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(statement.implementation).toEqual({ description: 'Forløp FHIR API', url: 'http://127.0.0.1/fhir' });
    const rest = statement.rest![0];
    expect(rest.security?.service?.[0].coding?.[0].code).toBe('SMART-on-FHIR');
    expect(rest.security?.extension?.[0].extension).toEqual([{ url: 'token', valueUri: idp.tokenEndpoint }]);
    const codes = (type: string) => rest.resource!.find((r) => r.type === type)!.interaction!.map((i) => i.code);
    for (const type of ['AuditEvent', 'Organization', 'Practitioner', 'PractitionerRole', 'Questionnaire']) {
      expect({ type, codes: codes(type) }).toEqual({ type, codes: ['read', 'vread', 'history-instance', 'search-type'] });
      expect(rest.resource!.find((r) => r.type === type)).toMatchObject({ conditionalCreate: false, conditionalUpdate: false, updateCreate: false });
    }
    expect(codes('Task')).toEqual(['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type']);
    // Pathway definitions are written by an operator whose scope names the type (server/definition-writes.ts).
    for (const type of ['PlanDefinition', 'ActivityDefinition']) expect({ type, codes: codes(type) }).toEqual({ type, codes: codes('Task') });
  });

  it('refuses what the statement leaves out: a client with every scope still gets 403 writing an Organization', async () => {
    const response = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('helsestasjon-secret:dev-secret-helsestasjon').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/*.cruds', resource: 'urn:forlop:api' }),
    });
    const { access_token: token } = (await response.json()) as { access_token?: string };
    expect(token).toBeDefined();
    const write = await fetch(`${base}/Organization`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': json }, body: JSON.stringify({ resourceType: 'Organization', name: 'X' }) });
    expect(write.status).toBe(403);
  });
});

describe('the bare API', () => {
  let store: FhirStore;
  let server: Server;
  let base: string;
  const ids: string[] = [];
  beforeAll(async () => {
    store = await FhirStore.open(await openPglite());
    ({ server, base } = await listen(createApp({ store })));
    for (let i = 0; i < 5; i++) {
      const created = await fetch(`${base}/Patient`, { method: 'POST', headers: { 'content-type': json }, body: JSON.stringify({ resourceType: 'Patient', birthDate: `2020-01-0${i + 1}`, gender: i % 2 ? 'male' : 'female' }) });
      ids.push(((await created.json()) as Patient).id!);
    }
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await store.close();
  });

  it('answers 404 for the SMART configuration when the API runs without authentication', async () => {
    const response = await fetch(`${base}/.well-known/smart-configuration`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as OperationOutcome).issue?.[0].diagnostics).toMatch(/without authentication/);
  });

  it('declares every write when nothing checks access (no security section)', async () => {
    const statement = (await (await fetch(`${base}/metadata`)).json()) as CapabilityStatement;
    expect(statement.rest![0].security).toBeUndefined();
    expect(statement.rest![0].resource!.find((r) => r.type === 'Organization')!.interaction!.map((i) => i.code)).toContain('create');
  });

  it('searches by POST with a form body, the parameters of URL and body together', async () => {
    const response = await fetch(`${base}/Patient/_search?_count=10`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `_id=${ids[3]},${ids[4]},unknown&_total=accurate` });
    expect(response.status).toBe(200);
    const bundle = (await response.json()) as Bundle<Patient>;
    expect(bundle.total).toBe(2);
    expect(bundle.entry!.map((e) => e.resource!.birthDate).sort()).toEqual(['2020-01-04', '2020-01-05']);
  });

  it.each(['-1', 'abc', '1e2', '2.5'])('refuses _count=%s with 400 naming _count, and serves the default page under Prefer: handling=lenient', async (value) => {
    const strict = await fetch(`${base}/Patient?_count=${value}`);
    expect(strict.status).toBe(400);
    const outcome = (await strict.json()) as OperationOutcome;
    expect(outcome.issue?.[0]).toMatchObject({ code: 'invalid', expression: ['_count'], diagnostics: expect.stringMatching(/^_count is '.+': it must be one whole number/) });
    const lenient = await fetch(`${base}/Patient?_count=${value}`, { headers: { prefer: 'handling=lenient' } });
    expect(lenient.status).toBe(200);
    expect(((await lenient.json()) as Bundle).entry).toHaveLength(5);
  });

  it('pages with first, previous, next and (with a total) last links', async () => {
    const page = async (url: string) => (await (await fetch(url)).json()) as Bundle<Patient>;
    const links = (b: Bundle) => Object.fromEntries(b.link!.map((l) => [l.relation, l.url]));
    const first = await page(`${base}/Patient?_count=2&_sort=_lastUpdated&_total=accurate`);
    expect(Object.keys(links(first))).toEqual(['self', 'first', 'next', 'last']);
    const second = await page(links(first).next);
    expect(Object.keys(links(second))).toEqual(['self', 'first', 'previous', 'next', 'last']);
    expect((await page(links(second).previous)).entry!.map((e) => e.resource!.id)).toEqual(first.entry!.map((e) => e.resource!.id));
    const last = await page(links(first).last);
    expect(last.entry!.map((e) => e.resource!.birthDate)).toEqual(['2020-01-05']);
    expect((await page(links(last).first)).entry!.map((e) => e.resource!.id)).toEqual(first.entry!.map((e) => e.resource!.id));
  });

  it('honours Prefer: return=minimal, OperationOutcome and representation on create, update and patch', async () => {
    const post = (prefer: string) => fetch(`${base}/Patient`, { method: 'POST', headers: { 'content-type': json, prefer }, body: JSON.stringify({ resourceType: 'Patient', gender: 'female' }) });
    const minimal = await post('return=minimal');
    expect(minimal.status).toBe(201);
    expect(minimal.headers.get('location')).toMatch(/\/Patient\/[^/]+\/_history\/1$/);
    expect(await minimal.text()).toBe('');
    const asOutcome = await post('return=OperationOutcome');
    expect(asOutcome.status).toBe(201);
    const outcome = (await asOutcome.json()) as OperationOutcome;
    expect(outcome).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational' }] });
    const created = (await (await post('return=representation')).json()) as Patient;
    expect(created.resourceType).toBe('Patient');
    const put = await fetch(`${base}/Patient/${created.id}`, { method: 'PUT', headers: { 'content-type': json, prefer: 'return=minimal' }, body: JSON.stringify({ ...created, gender: 'male' }) });
    expect(put.status).toBe(200);
    expect(put.headers.get('etag')).toBe('W/"2"');
    expect(await put.text()).toBe('');
    const patch = await fetch(`${base}/Patient/${created.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json-patch+json', prefer: 'return=OperationOutcome' }, body: JSON.stringify([{ op: 'replace', path: '/gender', value: 'other' }]) });
    expect(patch.status).toBe(200);
    expect(((await patch.json()) as OperationOutcome).issue?.[0].diagnostics).toBe(`Wrote Patient/${created.id} version 3`);
  });

  it.each([
    ['_format=xml', '?_format=xml', {}],
    ['_format=application/fhir+xml', '?_format=application%2Ffhir%2Bxml', {}],
    ['Accept: application/fhir+xml', '', { accept: 'application/fhir+xml' }],
  ])('answers %s with 406, not JSON it did not ask for', async (_name, query, headers) => {
    for (const path of ['Patient', 'metadata']) {
      const response = await fetch(`${base}/${path}${query}`, { headers });
      expect(response.status).toBe(406);
      expect(response.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    }
  });

  it('serves _format=json and Accept lists that include JSON', async () => {
    expect((await fetch(`${base}/Patient?_format=json`)).status).toBe(200);
    expect((await fetch(`${base}/Patient`, { headers: { accept: 'application/fhir+xml;q=0.9, application/fhir+json' } })).status).toBe(200);
  });

  it('answers 405 with an Allow header naming the methods the path serves', async () => {
    const onType = await fetch(`${base}/Patient`, { method: 'DELETE' });
    expect(onType.status).toBe(405);
    expect(onType.headers.get('allow')).toBe('GET, POST, PUT, HEAD');
    const onInstance = await fetch(`${base}/Patient/x/_history`, { method: 'POST', headers: { 'content-type': json }, body: '{}' });
    expect(onInstance.status).toBe(405);
    expect(onInstance.headers.get('allow')).toBe('GET, HEAD');
    const onBase = await fetch(`${base}/`, { method: 'GET' });
    expect(onBase.status).toBe(405);
    expect(onBase.headers.get('allow')).toBe('POST');
  });

  it('puts an OperationOutcome text in diagnostics as well as details.text, with the expression', async () => {
    const response = await fetch(`${base}/Patient`, { method: 'POST', headers: { 'content-type': json }, body: JSON.stringify({ resourceType: 'Patient', gender: 'nope' }) });
    expect(response.status).toBe(422);
    const [first] = ((await response.json()) as OperationOutcome).issue!;
    expect(first.diagnostics).toBeTruthy();
    expect(first.diagnostics).toBe(first.details?.text);
    expect(first.expression).toEqual(['Patient.gender']);
  });

  it('returns only the asked elements by _elements, tagged SUBSETTED, and only a total by _summary=count', async () => {
    const bundle = (await (await fetch(`${base}/Patient?_id=${ids[0]}&_elements=birthDate`)).json()) as Bundle<Patient>;
    const [resource] = bundle.entry!.map((e) => e.resource!);
    expect(Object.keys(resource).sort()).toEqual(['birthDate', 'id', 'meta', 'resourceType']);
    expect(resource.meta?.tag).toContainEqual({ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' });
    expect((await fetch(`${base}/Patient?_elements=birth.date`)).status).toBe(400);
    const counted = (await (await fetch(`${base}/Patient?_id=${ids[0]},${ids[1]}&_summary=count`)).json()) as Bundle;
    expect(counted.total).toBe(2);
    expect(counted.entry ?? []).toEqual([]);
  });

  it('declares the result parameters and modifiers it answers', async () => {
    const statement = (await (await fetch(`${base}/metadata`)).json()) as CapabilityStatement;
    const task = statement.rest![0].resource!.find((r) => r.type === 'Task')!;
    expect(task.searchParam!.map((p) => p.name)).toEqual(expect.arrayContaining(['_count', '_sort', '_total', '_summary', '_elements']));
    expect(task.searchParam!.find((p) => p.name === 'patient')!.documentation).toMatch(/chaining, e\.g\. subject:Patient\.identifier/);
    expect(task.searchParam!.find((p) => p.name === 'status')!.documentation).toMatch(/:not/);
  });
});
