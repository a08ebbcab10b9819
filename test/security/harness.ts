/**
 * Jest harness for authentication: a real dev IdP (oidc-provider) and a tiny
 * Express API behind `authenticate`; client helpers from dpop-client.ts.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { DEV_API_AUDIENCE, startDevIdp, type DevIdp } from '../../app/dev-idp';
import { authenticate, requireScope, type AuthenticateOptions } from '../../server/auth';

export interface TestApi {
  url: string;
  stop(): Promise<void>;
}

/** Starts an API with GET /fhir/Task/:id (needs Task read) echoing req.forlop. */
export async function startTestApi(idp: DevIdp, overrides: Partial<AuthenticateOptions> = {}): Promise<TestApi> {
  const app = express();
  app.use(
    authenticate({
      issuer: idp.issuer,
      audience: DEV_API_AUDIENCE,
      jwks: { uri: idp.jwksUri },
      organisations: idp.organisations,
      ...overrides,
    }),
  );
  app.get('/fhir/Task/:id', requireScope('Task', 'read'), (req, res) => {
    res.json({ id: req.params.id, forlop: { ...req.forlop, scopes: undefined } });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export { getToken, makeProof, newDpopKey, type DpopKey } from './dpop-client';
export { startDevIdp };

/** An access token for a demo client of the dev IdP (client credentials, its development secret), for the API's resource. */
export async function clientToken(tokenEndpoint: string, client: string, scope: string): Promise<string> {
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${client}-secret:dev-secret-${client}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: 'urn:forlop:api' }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`no token: ${JSON.stringify(body)}`);
  return body.access_token;
}
