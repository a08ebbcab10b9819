/**
 * Failed events through the API (issue #21, items 1 and 6), on the whole
 * stack in one process (app/in-process-stack.ts: embedded Temporal server,
 * SDK worker, PGlite, the dev IdP, the HTTP server with audit and access):
 *  - an enrolling EpisodeOfCare with an unknown pathway code, or with neither
 *    a due date nor a birth date, is refused with 422 naming the field;
 *  - an enrolment stored past the API (data from before that check) is listed
 *    by GET /api/failed-events to its municipality's coordinator and not to
 *    another municipality; it can be retried and dismissed with a reason,
 *    each audited;
 *  - every request leaves one log line with its method, path (no query
 *    values), status, time and request id.
 */
import { Writable } from 'node:stream';
import type { AuditEvent, EpisodeOfCare, Observation, OperationOutcome } from '@medplum/fhirtypes';
import { createLogger } from '../../app/logging';
import type { FailedEvent } from '../../events/failed-events';
import { DUE_DATE_EXTENSION, PATHWAY_TYPE_SYSTEM } from '../../events/map-resource';
import { familyWorkflowId, pathwayStateQuery } from '../../workflows/messages';
import { startStack, type Stack } from './harness';

jest.setTimeout(120_000);

let stack: Stack;
const lines: Record<string, unknown>[] = [];
beforeAll(async () => {
  const log = createLogger({ destination: new Writable({ write: (chunk, _e, done) => (lines.push(JSON.parse(String(chunk))), done()) }) });
  stack = await startStack('2026-11-03', 'failed-events-api', { log });
});
afterAll(() => stack.close());

const episode = (patient: string, code: string, extension = [{ url: DUE_DATE_EXTENSION, valueDate: '2027-06-01' }]): EpisodeOfCare => ({
  resourceType: 'EpisodeOfCare',
  status: 'active',
  type: [{ coding: [{ system: PATHWAY_TYPE_SYSTEM, code }] }],
  patient: { reference: patient },
  managingOrganization: { reference: 'Organization/sarpsborg-kommune' },
  period: { start: '2026-11-03' },
  extension,
});

it('refuses an enrolment with an unknown pathway code or without a due date or birth date: 422 naming the field and the valid codes', async () => {
  const token = await stack.token('helsestasjon');
  const mother = await stack.call(token, 'POST', '/fhir/Patient', { resourceType: 'Patient', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } });
  const patient = `Patient/${mother.body.id}`;

  const unknown = await stack.call<OperationOutcome>(token, 'POST', '/fhir/EpisodeOfCare', episode(patient, 'Basis'));
  expect(unknown.status).toBe(422);
  expect(unknown.body.issue).toEqual([expect.objectContaining({ code: 'code-invalid', expression: ['EpisodeOfCare.type[0].coding[0].code'] })]);
  expect(unknown.body.issue[0].details?.text ?? unknown.body.issue[0].diagnostics).toContain('Basisprogram, Familieambulatorium, ForeldreBabySamspill, Sarpsborgmodellen');

  const unanchored = await stack.call<OperationOutcome>(token, 'POST', '/fhir/EpisodeOfCare', episode(patient, 'Basisprogram', []));
  expect(unanchored.status).toBe(422);
  expect(unanchored.body.issue).toEqual([expect.objectContaining({ code: 'required', expression: ['EpisodeOfCare.extension'] })]);

  // Nothing was stored.
  expect((await stack.store.search('EpisodeOfCare', { patient })).resources).toEqual([]);
  // A good one is taken.
  expect((await stack.call(token, 'POST', '/fhir/EpisodeOfCare', episode(patient, 'Basisprogram'))).status).toBe(201);
});

it('lists a failed enrolment to its coordinator only, and audits a retry and a dismissal', async () => {
  const koordinator = await stack.token('koordinator', 'system/*.rs system/CarePlan.cruds');
  const other = await stack.token('helsestasjon-fredrikstad');
  // Stored past the API, as data written before the write-time check.
  const poison = await stack.store.create(episode('Patient/poisoned-mother', 'Basis'));
  await stack.route();

  const listed = await stack.call<{ total: number; failedEvents: FailedEvent[] }>(koordinator, 'GET', '/api/failed-events');
  expect(listed.status).toBe(200);
  const event = listed.body.failedEvents.find((f) => f.resource === `EpisodeOfCare/${poison.id}/_history/1`)!;
  expect(event).toMatchObject({ cause: 'unknown-definition', state: 'failed', patient: 'Patient/poisoned-mother', attempts: 1 });
  expect(event).not.toHaveProperty('content');
  expect(event.notice).toMatch(/^Communication\//);
  // Another municipality sees nothing of it.
  expect((await stack.call<{ failedEvents: FailedEvent[] }>(other, 'GET', '/api/failed-events')).body.failedEvents).toEqual([]);
  expect((await stack.call(other, 'GET', `/api/failed-events/${event.id}`)).status).toBe(404);
  expect((await stack.call(other, 'POST', `/api/failed-events/${event.id}/dismiss`, { reason: 'not ours' })).status).toBe(404);

  // Retried as it stands: fails again, counted.
  const retry = await stack.call<FailedEvent>(koordinator, 'POST', `/api/failed-events/${event.id}/retry`);
  expect(retry.status).toBe(202);
  expect(retry.body.state).toBe('retry');
  await stack.route();
  expect((await stack.call<FailedEvent>(koordinator, 'GET', `/api/failed-events/${event.id}`)).body).toMatchObject({ state: 'failed', attempts: 2 });

  // Dismissed: a reason is required; then it is closed, and cannot be retried.
  expect((await stack.call(koordinator, 'POST', `/api/failed-events/${event.id}/dismiss`, {})).status).toBe(400);
  const dismissed = await stack.call<FailedEvent>(koordinator, 'POST', `/api/failed-events/${event.id}/dismiss`, { reason: 'test enrolment, written by mistake' });
  expect(dismissed.body).toMatchObject({ state: 'dismissed', resolution: 'test enrolment, written by mistake', resolvedBy: expect.stringContaining('koordinator') });
  expect((await stack.call(koordinator, 'POST', `/api/failed-events/${event.id}/retry`)).status).toBe(409);
  expect((await stack.call<{ failedEvents: FailedEvent[] }>(koordinator, 'GET', '/api/failed-events')).body.failedEvents.map((f) => f.id)).not.toContain(event.id);
  expect((await stack.call<{ failedEvents: FailedEvent[] }>(koordinator, 'GET', '/api/failed-events?state=closed')).body.failedEvents.map((f) => f.id)).toContain(event.id);

  // Both changes are audited as updates of the failed resource by the coordinator's organisation.
  const audits = (await stack.store.search('AuditEvent', { _count: '500' })).resources as AuditEvent[];
  const updates = audits.filter((a) => a.action === 'U' && a.entity?.some((e) => e.what?.reference === `EpisodeOfCare/${poison.id}`));
  expect(updates).toHaveLength(2);
  for (const audit of updates) {
    expect(audit.agent.some((a) => a.who?.identifier?.value === '910000012')).toBe(true);
    expect(audit.entity?.map((e) => e.what?.reference)).toContain('Patient/poisoned-mother');
  }
});

it('delivers a failed event on an operator retry once what stopped it is gone', async () => {
  const token = await stack.token('helsestasjon');
  const koordinator = await stack.token('koordinator', 'system/*.rs system/CarePlan.cruds');
  const { patient, familyId } = await stack.enrol(token, '2027-06-01');
  await stack.route();
  const epds = await stack.call<Observation>(token, 'POST', '/fhir/Observation', {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '99046-5' }] },
    subject: { reference: patient },
    effectiveDateTime: '2026-11-03',
    valueInteger: 4,
  });
  // The change failed while Temporal was out of reach for longer than the router keeps trying
  // (recorded as the router does after its last attempt), and was then passed over.
  const { event } = await stack.failed.record({ reader: 'pathway-router', seq: 1_000_000, resource: epds.body, patient, familyId, cause: 'gave-up', error: 'Gave up after 8 attempts: 14 UNAVAILABLE' });
  expect((await stack.call(koordinator, 'POST', `/api/failed-events/${event.id}/retry`)).status).toBe(202);
  await stack.route();
  expect((await stack.call<FailedEvent>(koordinator, 'GET', `/api/failed-events/${event.id}`)).body).toMatchObject({ state: 'delivered' });
  const state = await stack.env.client.workflow.getHandle(familyWorkflowId(familyId)).query(pathwayStateQuery);
  expect(state.applied).toContain(`Observation/${epds.body.id}/_history/1`);
});

it('logs one line per request: method, path without query values, status, time and request id', async () => {
  const token = await stack.token('helsestasjon');
  const response = await fetch(`${stack.url}/fhir/Patient?identifier=urn:oid:2.16.578.1.12.4.1.4.1|01019000083&_count=5`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': 'req-test-1' } });
  expect(response.status).toBe(200);
  expect(response.headers.get('x-request-id')).toBe('req-test-1');
  const line = lines.find((l) => l.requestId === 'req-test-1');
  expect(line).toMatchObject({ level: 'info', msg: 'request', method: 'GET', path: '/fhir/Patient', queryParams: 'identifier,_count', status: 200, client: 'helsestasjon' });
  expect(typeof line!.ms).toBe('number');
  expect(JSON.stringify(lines)).not.toContain('01019000083');
  // A request without an id gets one.
  const other = await fetch(`${stack.url}/fhir/metadata`);
  expect(other.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  expect(lines.filter((l) => l.requestId === other.headers.get('x-request-id'))).toHaveLength(1);
});
