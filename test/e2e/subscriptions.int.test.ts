/**
 * Outbound rest-hook subscriptions end to end: DPS's system subscribes to
 * the Tasks it owns; a referral to DPS is created while its endpoint is down
 * for three hours (virtual time); the Subscription shows the error
 * meanwhile; the notification arrives once the endpoint is back, once, and
 * the Subscription is active again. Subscriptions are organisation-bound.
 * The subscriber is a real HTTP server in the test.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle, Subscription, Task } from '@medplum/fhirtypes';
import { startStack, until, type Stack } from './harness';

jest.setTimeout(180_000);

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let stack: Stack;
let subscriber: Server;
let subscriberUrl: string;
let up = false;
let refused = 0;
const received: Received[] = [];

beforeAll(async () => {
  stack = await startStack('2026-11-03', 'e2e-subscriptions');
  subscriber = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      if (!up) {
        refused++;
        res.writeHead(503).end();
        return;
      }
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => subscriber.listen(0, '127.0.0.1', resolve));
  subscriberUrl = `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await stack?.close();
  subscriber?.closeAllConnections();
  await new Promise<void>((resolve) => subscriber?.close(() => resolve()));
});

const subscriptionOf = (id: string) => stack.store.read<Subscription>('Subscription', id);

it('notifies the owner of a new referral after its endpoint was down for three hours, once, and shows the error meanwhile', async () => {
  const dps = await stack.token('dps');
  const helsestasjon = await stack.token('helsestasjon');

  const created = await stack.call<Subscription>(dps, 'POST', '/fhir/Subscription', {
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'Henvisninger til DPS',
    criteria: 'Task?owner=Organization/sykehuset-ostfold-dps',
    channel: { type: 'rest-hook', endpoint: `${subscriberUrl}/fhir`, payload: 'application/fhir+json', header: ['Authorization: Bearer subscriber-secret'] },
  });
  expect(created.status).toBe(201);
  await stack.route();
  expect((await subscriptionOf(created.body.id!)).status).toBe('active');

  // A family enrolled by the helsestasjon; EPDS 16 in pregnancy refers her to DPS.
  const { patient } = await stack.enrol(helsestasjon, '2027-05-01');
  await stack.route();
  await stack.call(helsestasjon, 'POST', '/fhir/Observation', {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '99046-5' }] },
    subject: { reference: patient },
    effectiveDateTime: '2026-11-03',
    valueInteger: 16,
  });
  await stack.route();
  const task = await until('the referral Task', async () => {
    const found = (await stack.store.search('Task', { owner: 'Organization/sykehuset-ostfold-dps' })).resources as Task[];
    return found[0];
  });
  await stack.route();

  // The endpoint is down: the first attempt fails and the Subscription says why.
  const failing = await until('the Subscription to show the error', async () => {
    const s = await subscriptionOf(created.body.id!);
    return s.status === 'error' ? s : undefined;
  });
  expect(failing.error).toMatch(/^HTTP 503 from the endpoint at .*; Forløp keeps retrying \(notification of Task\//);
  expect(JSON.stringify(failing)).not.toContain('Distriktspsykiatrisk'); // no resource content in the error

  // Three hours pass with retries backing off; still nothing delivered.
  await stack.env.sleep(3 * 3_600_000);
  expect(received).toEqual([]);
  expect(refused).toBeGreaterThanOrEqual(5);
  const refusedWhileDown = refused;

  // Back up: the next retry (at most an hour later) delivers the Task, as R4 rest-hook with a payload: PUT [endpoint]/Task/[id].
  up = true;
  await stack.env.sleep(3_600_000);
  await until('the notification', async () => received.length > 0);
  expect(received).toHaveLength(1);
  expect(received[0]).toMatchObject({ method: 'PUT', url: `/fhir/Task/${task.id}`, headers: expect.objectContaining({ authorization: 'Bearer subscriber-secret', 'content-type': 'application/fhir+json' }) });
  expect(JSON.parse(received[0].body)).toMatchObject({ resourceType: 'Task', id: task.id, status: 'requested' });
  const recovered = await until('the Subscription to be active again', async () => {
    const s = await subscriptionOf(created.body.id!);
    return s.status === 'active' ? s : undefined;
  });
  expect(recovered.error).toBeUndefined();
  expect(refused).toBe(refusedWhileDown);

  // DPS receives the referral: the new version is notified too; the notifier run again from the start adds nothing.
  const moved = await stack.call<Task>(dps, 'PUT', `/fhir/Task/${task.id}`, { ...task, status: 'received', lastModified: '2026-11-04' });
  expect(moved.status).toBe(200);
  await stack.route();
  await until('the second notification', async () => received.length >= 2);
  await stack.store.saveCheckpoint('subscription-notifier', 0);
  await stack.route();
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(received.map((r) => JSON.parse(r.body).status)).toEqual(['requested', 'received']);
});

it('binds subscriptions to the subscriber organisation', async () => {
  const dps = await stack.token('dps');
  const other = await stack.token('helsestasjon-fredrikstad');
  const channel = { type: 'rest-hook', endpoint: `${subscriberUrl}/fhir`, payload: 'application/fhir+json' };

  // Another organisation's Tasks: refused.
  const foreign = await stack.call(dps, 'POST', '/fhir/Subscription', { resourceType: 'Subscription', status: 'requested', reason: 'x', criteria: 'Task?owner=Organization/sarpsborg-helsestasjon', channel });
  expect(foreign.status).toBe(403);

  // Naming a second organisation: stored (DPS takes part), but never activated; the Subscription says why.
  const wide = await stack.call<Subscription>(dps, 'POST', '/fhir/Subscription', {
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'x',
    criteria: 'Task?owner=Organization/sykehuset-ostfold-dps,Organization/sarpsborg-helsestasjon',
    channel,
  });
  expect(wide.status).toBe(201);
  const unsupported = await stack.call<Subscription>(dps, 'POST', '/fhir/Subscription', { resourceType: 'Subscription', status: 'requested', reason: 'x', criteria: 'Task?owner=Organization/sykehuset-ostfold-dps&description=x', channel });
  await stack.route();
  expect(await subscriptionOf(wide.body.id!)).toMatchObject({ status: 'error', error: expect.stringContaining('exactly one organisation') });
  expect(await subscriptionOf(unsupported.body.id!)).toMatchObject({ status: 'error', error: expect.stringContaining("Unsupported criteria parameter 'description'") });

  // Other organisations neither see nor find DPS's subscriptions.
  expect((await stack.call(other, 'GET', `/fhir/Subscription/${wide.body.id}`)).status).toBe(404);
  const search = await stack.call<Bundle>(other, 'GET', '/fhir/Subscription');
  expect(search.body.entry ?? []).toEqual([]);
});
