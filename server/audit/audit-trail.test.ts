/**
 * auditTrail on a real Express server over HTTP: one AuditEvent per request,
 * whatever happens, and no success without a written AuditEvent.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditEvent } from '@medplum/fhirtypes';
import express, { type NextFunction, type Request, type Response } from 'express';
import { auditTrail, describeAudit, type AuditTrailOptions } from './audit-trail';

interface Harness {
  url: string;
  events: AuditEvent[];
  writeErrors: unknown[];
  stop(): Promise<void>;
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function start(options: { failWrites?: boolean; onWrite?: (e: AuditEvent) => void } = {}, routes?: (app: express.Express) => void): Promise<Harness> {
  const events: AuditEvent[] = [];
  const writeErrors: unknown[] = [];
  const write: AuditTrailOptions['write'] = async (event) => {
    if (options.failWrites) throw new Error('audit store is down');
    events.push(event);
    options.onWrite?.(event);
  };
  const app = express();
  app.use(auditTrail({ write, issuer: 'https://issuer.example', onWriteError: (error) => writeErrors.push(error) }));
  // Stand-in for authenticate(): a caller is known unless the request says otherwise.
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (req.get('x-anonymous')) {
      res.status(401).set('WWW-Authenticate', 'Bearer realm="forlop"').json({ resourceType: 'OperationOutcome' });
      return;
    }
    req.forlop = {
      clientId: 'helsestasjon',
      organisation: { orgnr: '910000020', reference: 'Organization/sarpsborg-helsestasjon' },
      scopes: [],
      scopeStrings: [],
      role: 'system',
      tokenType: 'Bearer',
    };
    next();
  });
  app.use(express.json({ type: ['application/json', 'application/fhir+json'] }));
  app.use(express.urlencoded({ extended: false }));
  routes?.(app);
  app.get('/fhir/Task/:id', (req, res) => {
    if (req.params.id === 'versioned') res.setHeader('content-location', '/fhir/Task/versioned/_history/3');
    res.json({ resourceType: 'Task', id: req.params.id });
  });
  app.get('/fhir/Task', (_req, res) => {
    describeAudit(res, { entities: ['Task/a', 'Task/b'] });
    res.json({ resourceType: 'Bundle', type: 'searchset' });
  });
  app.post('/fhir/Task/_search', (_req, res) => {
    res.json({ resourceType: 'Bundle', type: 'searchset' });
  });
  app.post('/fhir/Task', (_req, res) => {
    res.status(201).location('/fhir/Task/new1/_history/1').json({ resourceType: 'Task', id: 'new1' });
  });
  app.get('/fhir/Broken/:id', () => {
    throw new Error('handler failed');
  });
  app.get('/fhir/Streamed/:id', (_req, res) => {
    res.writeHead(202, { 'content-type': 'text/plain' });
    res.write('part one, ');
    res.write('part two');
    res.end();
  });
  app.get('/fhir/CarePlan/:id', (_req, res) => {
    describeAudit(res, { crossOrganisation: { organisations: ['Organization/ostfold-familieambulatorium'] } });
    res.json({ resourceType: 'CarePlan' });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    events,
    writeErrors,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let h: Harness;
afterEach(() => h?.stop());

describe('auditTrail', () => {
  it('records a read with the caller, the resource and success', async () => {
    h = await start();
    const response = await fetch(`${h.url}/fhir/Task/1`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ resourceType: 'Task', id: '1' });
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({
      action: 'R',
      outcome: '0',
      subtype: [{ code: 'read' }],
      entity: [{ what: { reference: 'Task/1' } }],
      agent: [
        { who: { identifier: { system: 'https://issuer.example', value: 'helsestasjon' } }, network: { address: expect.any(String) } },
        { who: { reference: 'Organization/sarpsborg-helsestasjon' } },
      ],
    });
  });

  it('records a search with its criteria and the returned resources', async () => {
    h = await start();
    await (await fetch(`${h.url}/fhir/Task?status=requested`)).json();
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ action: 'E', subtype: [{ code: 'search-type' }] });
    expect(h.events[0].entity!.map((e) => e.what?.reference ?? Buffer.from(e.query!, 'base64').toString())).toEqual(['Task/a', 'Task/b', 'status=requested']);
  });

  it('records a POST _search with its form criteria', async () => {
    h = await start();
    await (await fetch(`${h.url}/fhir/Task/_search`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'owner=Organization%2Fx' })).json();
    expect(Buffer.from(h.events[0].entity![0].query!, 'base64').toString()).toBe('owner=Organization%2Fx');
  });

  it('records a create with the new resource from the Location header', async () => {
    h = await start();
    const response = await fetch(`${h.url}/fhir/Task`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: '{"resourceType":"Task"}' });
    expect(response.status).toBe(201);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ action: 'C', outcome: '0', entity: [{ what: { reference: 'Task/new1/_history/1' } }] });
  });

  it('records a read with the version it handed out, from the Content-Location header', async () => {
    h = await start();
    expect((await fetch(`${h.url}/fhir/Task/versioned`)).status).toBe(200);
    expect(h.events[0].entity!.map((e) => e.what?.reference)).toEqual(['Task/versioned', 'Task/versioned/_history/3']);
  });

  it('records a request refused before authentication', async () => {
    h = await start();
    const response = await fetch(`${h.url}/fhir/Task/1`, { headers: { 'x-anonymous': '1' } });
    expect(response.status).toBe(401);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ outcome: '4', outcomeDesc: 'HTTP 401', agent: [{ who: { display: 'unauthenticated client' } }] });
  });

  it('records a request whose handler throws', async () => {
    h = await start();
    const response = await fetch(`${h.url}/fhir/Broken/1`);
    expect(response.status).toBe(500);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ outcome: '8', entity: [{ what: { reference: 'Broken/1' } }] });
  });

  it('sends written chunks and an explicit writeHead status intact, after auditing', async () => {
    h = await start();
    const response = await fetch(`${h.url}/fhir/Streamed/1`);
    expect(response.status).toBe(202);
    expect(await response.text()).toBe('part one, part two');
    expect(h.events).toHaveLength(1);
    expect(h.events[0].outcome).toBe('0');
  });

  it('records the legal basis a route gives for cross-organisation access', async () => {
    h = await start();
    await (await fetch(`${h.url}/fhir/CarePlan/c1`)).json();
    expect(h.events[0].agent[1]).toMatchObject({ policy: ['https://lovdata.no/lov/1999-07-02-64/§45'], purposeOfUse: [{ coding: [{ code: 'COC' }] }] });
  });

  it('withholds a successful response when its AuditEvent cannot be written', async () => {
    h = await start({ failWrites: true });
    const response = await fetch(`${h.url}/fhir/Task/1`);
    expect(response.status).toBe(500);
    const body = (await response.json()) as { resourceType: string; issue: { code: string; diagnostics: string }[] };
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0].diagnostics).toMatch(/could not be audited/);
    expect(JSON.stringify(body)).not.toContain('"Task"');
    expect(h.writeErrors).toEqual([expect.objectContaining({ message: 'audit store is down' })]);
  });

  it('records a request the client abandons before any response', async () => {
    const written = deferred<AuditEvent>();
    const reached = deferred();
    const release = deferred();
    h = await start({ onWrite: (e) => written.resolve(e) }, (app) => {
      app.get('/fhir/Slow/:id', async (_req, res) => {
        reached.resolve();
        await release.promise;
        res.json({ late: true });
      });
    });
    const abort = new AbortController();
    const request = fetch(`${h.url}/fhir/Slow/1`, { signal: abort.signal }).catch((error: Error) => error);
    await reached.promise;
    abort.abort();
    const event = await written.promise;
    expect(event).toMatchObject({ outcome: '8', outcomeDesc: expect.stringContaining('closed the connection'), entity: [{ what: { reference: 'Slow/1' } }] });
    release.resolve();
    expect(((await request) as Error).name).toBe('AbortError');
    expect(h.events).toHaveLength(1);
  });
});
