/**
 * The store interface over an external FHIR server: RemoteFhirRepository
 * against Forløp's own FHIR API started with token checks that require DPoP,
 * and a real OIDC provider (the dev IdP, oidc-provider) issuing tokens for
 * private_key_jwt client credentials, as HelseID does.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { Bundle, CarePlan, Patient } from '@medplum/fhirtypes';
import { buildHttpApp } from '../../app/http';
import { DEV_API_RESOURCE, DEV_ORGANISATIONS, startDevIdp, type DevIdp } from '../../app/dev-idp';
import { createPathwayActivities } from '../../activities/pathway-effects';
import { RemoteFhirRepository } from '../../fhir/client/remote-repository';
import { carePlanId } from '../../fhir/builders/pathway';
import { OperationOutcomeError } from '../../fhir/outcome';
import { FhirStore, openPglite } from '../../fhir/store';
import { DefinitionRegistry } from '../../pathways/registry';
import { startPathway } from '../../workflows/pathway-state';

let idp: DevIdp;
let store: FhirStore;
let server: Server;
let baseUrl: string;

const remote = (client: string, scope: string) =>
  new RemoteFhirRepository({
    baseUrl,
    auth: { issuer: idp.issuer, clientId: idp.clients[client].clientId, privateKey: idp.clients[client].privateKey, kid: idp.clients[client].privateJwk.kid, scope, resource: DEV_API_RESOURCE, allowInsecureRequests: true },
  });

beforeAll(async () => {
  idp = await startDevIdp();
  store = await FhirStore.open(await openPglite());
  // The API checks each DPoP proof's htu against its public URL, so it must know its port.
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const publicUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const app = await buildHttpApp({ store, publicUrl, auth: { issuer: idp.issuer, audience: 'forlop-api', requireDpop: true, organisations: { ...DEV_ORGANISATIONS } } });
  server.on('request', app);
  baseUrl = `${publicUrl}/fhir`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await store.close();
  await idp.stop();
});

it('creates, reads, searches and updates through a DPoP-bound token from private_key_jwt client credentials', async () => {
  const fhir = remote('helsestasjon', 'system/Patient.cruds');
  const created = await fhir.create<Patient>({ resourceType: 'Patient', birthDate: '1994-03-01', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } });
  expect(created.meta?.versionId).toBe('1');
  expect(await fhir.read<Patient>('Patient', created.id!)).toMatchObject({ id: created.id, birthDate: '1994-03-01' });
  const found = await fhir.search('Patient', { _id: created.id!, _total: 'accurate' });
  expect(found.resources.map((r) => r.id)).toEqual([created.id]);
  const updated = await fhir.update({ ...created, birthDate: '1994-03-02' }, { ifMatch: 'W/"1"' });
  expect(updated.meta?.versionId).toBe('2');
  // The server's OperationOutcome and status come back as they are.
  const stale = await fhir.update({ ...created, birthDate: '1994-03-03' }, { ifMatch: 'W/"1"' }).catch((e: unknown) => e);
  expect(stale).toBeInstanceOf(OperationOutcomeError);
  expect((stale as OperationOutcomeError).status).toBe(412);
  expect((stale as OperationOutcomeError).outcome.issue?.[0]?.details?.text).toMatch(/^Version mismatch/);
  // Every call was audited by the server, with the client and its organisation.
  const audits = (await store.search('AuditEvent', { _count: '1000' })).resources;
  expect(audits.length).toBeGreaterThanOrEqual(5);
});

it('a transaction with one bad entry stores nothing, and the error names the entry', async () => {
  const fhir = remote('helsestasjon', 'system/Patient.cruds system/Task.cruds');
  const before = (await store.search('Task', { _total: 'accurate', _count: '0' })).total;
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111', resource: { resourceType: 'Task', status: 'requested', intent: 'order', owner: { reference: 'Organization/sarpsborg-helsestasjon' } }, request: { method: 'POST', url: 'Task' } },
      { resource: { resourceType: 'Task', status: 'bogus', intent: 'order', owner: { reference: 'Organization/sarpsborg-helsestasjon' } } as never, request: { method: 'POST', url: 'Task' } },
    ],
  };
  const error = (await fhir.transaction(bundle).catch((e: unknown) => e)) as OperationOutcomeError;
  expect(error.status).toBe(422);
  expect(error.outcome.issue?.[0]?.expression?.[0]).toBe('Bundle.entry[1].resource.status');
  expect((await store.search('Task', { _total: 'accurate', _count: '0' })).total).toBe(before);
});

it('refuses a client whose token lacks the scope, with the server\'s 403', async () => {
  const fhir = remote('helsestasjon', 'system/Patient.rs');
  const error = (await fhir.create({ resourceType: 'Patient' }).catch((e: unknown) => e)) as OperationOutcomeError;
  expect(error.status).toBe(403);
});

it('answers 401 with the server\'s reason when the API does not trust the issuer', async () => {
  const other = await startDevIdp();
  try {
    const fhir = new RemoteFhirRepository({
      baseUrl,
      auth: { issuer: other.issuer, clientId: 'helsestasjon', privateKey: other.clients.helsestasjon.privateKey, kid: other.clients.helsestasjon.privateJwk.kid, scope: 'system/Patient.rs', resource: DEV_API_RESOURCE, allowInsecureRequests: true },
    });
    const error = (await fhir.read('Patient', 'x').catch((e: unknown) => e)) as OperationOutcomeError;
    expect(error).toBeInstanceOf(OperationOutcomeError);
    expect(error.status).toBe(401);
    expect(error.outcome.issue?.[0]?.details?.text).toMatch(/^GET \/fhir\/Patient\/x was refused: /);
  } finally {
    await other.stop();
  }
});

it('serves the pathway activities: the family CarePlan written through the remote API', async () => {
  const fhir = remote('helsestasjon', 'system/CarePlan.cruds system/Encounter.cruds system/Communication.cruds system/Task.cruds system/ServiceRequest.cruds system/Patient.cruds');
  const mother = await fhir.create<Patient>({ resourceType: 'Patient', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } });
  const registry = DefinitionRegistry.builtIn();
  const plan = registry.plan('Basisprogram');
  const { state, effects } = startPathway(plan, 'remote-family-1', { enrolment: '2026-11-03', dueDate: '2027-06-01' }, '2026-11-03');
  const { timeline: _t, applied: _a, ...snapshot } = state;
  const refs = { patient: `Patient/${mother.id}`, organization: 'Organization/sarpsborg-helsestasjon', services: { jordmor: 'Organization/sarpsborg-helsestasjon', helsestasjon: 'Organization/sarpsborg-helsestasjon' } };
  await createPathwayActivities({ fhir, plans: registry }).applyPathwayEffects({ familyId: 'remote-family-1', canonical: plan.canonical, refs, snapshot, effects });
  const carePlan = await store.read<CarePlan>('CarePlan', carePlanId('remote-family-1'));
  expect(carePlan).toMatchObject({ status: 'active', subject: { reference: `Patient/${mother.id}` }, instantiatesCanonical: [plan.canonical] });
  expect(carePlan.activity?.length).toBe(plan.steps.filter((s) => s.trigger === 'plan').length);
});
