/**
 * The security stack as the server mounts it (auditTrail, authenticate,
 * requireScope) against the real dev IdP: every call, accepted or refused,
 * leaves exactly one AuditEvent naming who called and how it ended.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditEvent } from '@medplum/fhirtypes';
import express from 'express';
import { startDevIdp, type DevIdp } from '../../app/dev-idp';
import { auditTrail } from '../../server/audit';
import { authenticate, requireScope, resolveAuthenticateOptions } from '../../server/auth';
import { getToken, makeProof, newDpopKey } from './dpop-client';

let idp: DevIdp;
let server: Server;
let base: string;
const events: AuditEvent[] = [];

beforeAll(async () => {
  idp = await startDevIdp();
  const options = await resolveAuthenticateOptions({ issuer: idp.issuer, audience: 'forlop-api', requireDpop: false }, { organisations: idp.organisations });
  const app = express();
  app.use(auditTrail({ write: async (e) => void events.push(e), issuer: idp.issuer }));
  app.use('/fhir', authenticate(options));
  app.get('/fhir/Task/:id', requireScope('Task', 'read'), (req, res) => void res.json({ resourceType: 'Task', id: req.params.id }));
  server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await idp?.stop();
});

beforeEach(() => {
  events.length = 0;
});

describe('one AuditEvent per call', () => {
  it('accepted DPoP call: outcome 0, client and organisation agents', async () => {
    const key = await newDpopKey();
    const token = await getToken(idp, 'familieambulatorium', 'system/Task.rs', { dpop: key });
    const url = `${base}/fhir/Task/t1`;
    const response = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await makeProof(key, { htm: 'GET', htu: url, accessToken: token }) } });
    expect(response.status).toBe(200);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      action: 'R',
      outcome: '0',
      entity: [{ what: { reference: 'Task/t1' } }],
      agent: [
        { who: { identifier: { system: idp.issuer, value: 'familieambulatorium' } }, requestor: true },
        { who: { identifier: { value: '910000039' }, reference: 'Organization/ostfold-familieambulatorium' } },
      ],
    });
  });

  it('missing token: 401 and an AuditEvent for an unauthenticated client', async () => {
    expect((await fetch(`${base}/fhir/Task/t1`)).status).toBe(401);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: '4', outcomeDesc: 'HTTP 401', agent: [{ who: { display: 'unauthenticated client' } }] });
  });

  it('insufficient scope: 403 and an AuditEvent naming the client', async () => {
    const token = await getToken(idp, 'koordinator', 'system/CarePlan.rs');
    expect((await fetch(`${base}/fhir/Task/t1`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: '4', agent: [{ who: { identifier: { value: 'koordinator' } } }, { who: { reference: 'Organization/sarpsborg-kommune' } }] });
  });
});
