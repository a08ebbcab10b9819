/**
 * The whole stack in one test process, as `forlop start` composes it: the
 * embedded Temporal server (time skipping), the SDK worker with the pathway
 * activities, the FHIR store on PGlite, the event router with the
 * development service organisations, the dev IdP (oidc-provider) and the
 * HTTP server (FHIR API + coordinator API, audit, authentication). Clients
 * call it over HTTP with tokens from the IdP, as hospital and municipal
 * systems do.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import type { Resource } from '@medplum/fhirtypes';
import { createPathwayActivities } from '../../activities/pathway-effects';
import { DEV_SERVICE_ORGANISATIONS } from '../../app/config';
import { DEV_API_AUDIENCE, startDevIdp, type DevIdp } from '../../app/dev-idp';
import { buildHttpApp } from '../../app/http';
import { EventRouter } from '../../events/router';
import { FhirStore, openPglite } from '../../fhir/store';
import { DefinitionRegistry } from '../../pathways/registry';
import { createTestEnvironment, type EmbeddedTestEnvironment } from '../../temporal/embedded/test-env';
import { createForlopWorker } from '../../temporal/worker';
import { getToken } from '../security/dpop-client';
import { morningOf, sleepUntilDay } from '../support/time';

Runtime.install({ logger: new DefaultLogger('WARN') });

export interface Stack {
  env: EmbeddedTestEnvironment;
  store: FhirStore;
  idp: DevIdp;
  url: string;
  today(): string;
  /** Lets the router pass on everything stored so far. */
  route(): Promise<void>;
  sleepUntil(date: string): Promise<void>;
  token(client: string, scope?: string): Promise<string>;
  /** A call with a token; the body parsed as JSON (undefined for none). */
  call<T = Resource>(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

export async function startStack(startDay: string, taskQueue: string): Promise<Stack> {
  const registry = DefinitionRegistry.builtIn();
  const env = await createTestEnvironment({ startTime: morningOf(startDay) });
  const store = await FhirStore.open(await openPglite());
  let today = startDay;
  const worker: Worker = await createForlopWorker({ connection: env.nativeConnection, taskQueue, activities: createPathwayActivities({ fhir: store, plans: registry }) });
  const running = worker.run();
  const router = new EventRouter({ store, client: env.client, taskQueue, plans: registry, services: DEV_SERVICE_ORGANISATIONS, today: () => today });
  const idp = await startDevIdp();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const app = await buildHttpApp({
    store,
    publicUrl: url,
    temporal: env.client,
    today: () => today,
    auth: { issuer: idp.issuer, audience: DEV_API_AUDIENCE, jwksUri: idp.jwksUri, requireDpop: false, organisations: idp.organisations },
  });
  server.on('request', app);
  const tokens = new Map<string, string>();
  return {
    env,
    store,
    idp,
    url,
    today: () => today,
    route: () => router.runUntilCaughtUp(),
    async sleepUntil(date) {
      today = await sleepUntilDay(env, date);
    },
    async token(client, scope = 'system/*.cruds') {
      const key = `${client} ${scope}`;
      if (!tokens.has(key)) tokens.set(key, await getToken(idp, client, scope));
      return tokens.get(key)!;
    },
    async call(token, method, path, body) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : undefined) as never };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await router.stop();
      worker.shutdown();
      await running;
      await idp.stop();
      await env.teardown();
      await store.close();
    },
  };
}
