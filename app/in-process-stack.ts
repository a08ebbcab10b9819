/**
 * The whole stack in one process, as `forlop start` composes it, on a
 * time-skipping clock: the
 * embedded Temporal server (time skipping), the SDK worker with the pathway
 * activities, the FHIR store on PGlite, the event router with the
 * development service organisations, the dev IdP (oidc-provider) and the
 * HTTP server (FHIR API + coordinator API, audit, authentication). Clients
 * call it over HTTP with tokens from the IdP, as hospital and municipal
 * systems do. For `forlop demo` and the end-to-end tests; months pass in
 * seconds, so nothing here is for real data.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { EpisodeOfCare, Patient, Resource } from '@medplum/fhirtypes';
import { createPathwayActivities } from '../activities/pathway-effects';
import { DUE_DATE_EXTENSION, PATHWAY_TYPE_SYSTEM } from '../events/map-resource';
import { FailedEvents } from '../events/failed-events';
import { EventRouter, familyIdOf } from '../events/router';
import { FhirStore, openPglite } from '../fhir/store';
import { osloDate, osloStartOfDay, type IsoDate } from '../pathways/calendar';
import { loadDefinitionsDirectory } from '../pathways/definitions-directory';
import { PublishedDefinitions } from '../pathways/published-definitions';
import { DefinitionRegistry } from '../pathways/registry';
import { createSubscriptionActivities } from '../subscriptions/delivery-activities';
import { SubscriptionNotifier } from '../subscriptions/notifier';
import { createTestEnvironment, type EmbeddedTestEnvironment } from '../temporal/embedded/test-env';
import { createForlopWorker } from '../temporal/worker';
import { DEV_SERVICE_ORGANISATIONS } from './config';
import { loadDevDirectory } from './dev-directory';
import { DEV_API_AUDIENCE, DEV_API_RESOURCE, startDevIdp, type DevIdp } from './dev-idp';
import { DASHBOARD_CLIENT_ID, devDashboardSecret } from './dev-idp-login';
import { getToken } from './dev-idp-client';
import { buildHttpApp } from './http';

/** The time at which the stack acts on a day: mid-morning in Oslo. */
export const morningOf = (date: IsoDate) => osloStartOfDay(date) + 9 * 3_600_000;

/** Lets virtual time pass until mid-morning of `date`, every timer on the way firing; returns the day it is. */
export async function sleepUntilDay(env: TestWorkflowEnvironment, date: IsoDate): Promise<IsoDate> {
  const now = await env.currentTimeMs();
  if (morningOf(date) > now) await env.sleep(morningOf(date) - now);
  return osloDate(await env.currentTimeMs());
}

export interface InProcessStack {
  env: EmbeddedTestEnvironment;
  store: FhirStore;
  failed: FailedEvents;
  idp: DevIdp;
  url: string;
  today(): string;
  /** Lets the event router and the subscription notifier pass on everything stored so far. */
  route(): Promise<void>;
  sleepUntil(date: string): Promise<void>;
  /** From now on, the event router and the notifier follow the change feed by themselves (as with `follow`). */
  follow(): void;
  token(client: string, scope?: string): Promise<string>;
  /** A call with a token; the body parsed as JSON (undefined for none). */
  call<T = Resource>(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /**
   * Enrols a mother as a municipal system does: her Patient and an active
   * EpisodeOfCare on `pathway` (default Basisprogram) with her due date,
   * starting `start` (default today). Throws if either write is refused.
   */
  enrol(token: string, dueDate: string, options?: { pathway?: string; start?: string }): Promise<{ patient: string; familyId: string }>;
  close(): Promise<void>;
}

export interface InProcessStackOptions {
  /** Real time instead of the time-skipping clock (the benchmarks): startDay is then today. */
  realTime?: boolean;
  /** Run the event router and the subscription notifier as `forlop start` does (polling, woken by writes) instead of only on route(). */
  follow?: boolean;
  /** A directory of the deployment's own definitions (FORLOP_PATHWAYS_DIR), beside the built-in ones. */
  pathwaysDir?: string;
  /** The HTTP server's request log (one line per request), as `forlop start` writes it. */
  log?: Logger;
}

export async function startInProcessStack(startDay: string, taskQueue: string, options: InProcessStackOptions = {}): Promise<InProcessStack> {
  const registry = options.pathwaysDir ? loadDefinitionsDirectory(options.pathwaysDir).registry : DefinitionRegistry.builtIn();
  const env = await createTestEnvironment(options.realTime ? { timeSkipping: false } : { startTime: morningOf(startDay) });
  const db = await openPglite();
  const store = await FhirStore.open(db);
  const failed = new FailedEvents(db);
  await loadDevDirectory(store);
  // Definitions published over FHIR join the registry as `forlop start` takes them.
  const published = new PublishedDefinitions(store, registry);
  await published.start();
  let today = startDay;
  const worker: Worker = await createForlopWorker({
    connection: env.nativeConnection,
    taskQueue,
    activities: { ...createPathwayActivities({ fhir: store, plans: published.plans() }), ...createSubscriptionActivities({ store }) },
  });
  const running = worker.run();
  const router = new EventRouter({ store, failed, client: env.client, taskQueue, plans: { ...published.plans(), canonicals: () => registry.canonicals() }, services: DEV_SERVICE_ORGANISATIONS, today: () => today });
  const notifier = new SubscriptionNotifier({ store, client: env.client, taskQueue });
  let following = false;
  const follow = () => {
    if (following) return;
    following = true;
    router.start();
    notifier.start();
  };
  if (options.follow) follow();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The IdP knows the dashboard's callback, so it starts once the server's address is known.
  const idp = await startDevIdp({ dashboard: { redirectUris: [`${url}/auth/callback`], postLogoutRedirectUris: [`${url}/auth/logged-out`] } });
  const stops: (() => Promise<void>)[] = [];
  const app = await buildHttpApp({
    store,
    failed,
    publicUrl: url,
    temporal: env.client,
    today: () => today,
    definitions: () => registry,
    log: options.log,
    auth: { issuer: idp.issuer, audience: DEV_API_AUDIENCE, jwksUri: idp.jwksUri, requireDpop: false, organisations: idp.organisations },
    dashboard: { clientId: DASHBOARD_CLIENT_ID, clientSecret: devDashboardSecret(), resource: DEV_API_RESOURCE, apiBaseUrl: url, services: DEV_SERVICE_ORGANISATIONS, onStop: (stop) => stops.push(stop) },
  });
  server.on('request', app);
  const tokens = new Map<string, string>();
  const call = async <T = Resource>(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  return {
    env,
    store,
    failed,
    idp,
    url,
    today: () => today,
    async route() {
      await router.runUntilCaughtUp();
      await notifier.runUntilCaughtUp();
    },
    async sleepUntil(date) {
      today = await sleepUntilDay(env, date);
    },
    follow,
    async token(client, scope = 'system/*.cruds') {
      const key = `${client} ${scope}`;
      if (!tokens.has(key)) tokens.set(key, await getToken(idp, client, scope));
      return tokens.get(key)!;
    },
    call,
    async enrol(token, dueDate, options = {}) {
      const mother = await call<Patient>(token, 'POST', '/fhir/Patient', { resourceType: 'Patient', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } });
      if (mother.status !== 201) throw new Error(`Enrolment: the Patient was refused (HTTP ${mother.status})`);
      const patient = `Patient/${mother.body.id}`;
      const episode = await call<EpisodeOfCare>(token, 'POST', '/fhir/EpisodeOfCare', {
        resourceType: 'EpisodeOfCare',
        status: 'active',
        type: [{ coding: [{ system: PATHWAY_TYPE_SYSTEM, code: options.pathway ?? 'Basisprogram' }] }],
        patient: { reference: patient },
        managingOrganization: { reference: 'Organization/sarpsborg-kommune' },
        period: { start: options.start ?? today },
        extension: [{ url: DUE_DATE_EXTENSION, valueDate: dueDate }],
      });
      if (episode.status !== 201) throw new Error(`Enrolment: the EpisodeOfCare was refused (HTTP ${episode.status})`);
      return { patient, familyId: familyIdOf(episode.body.id!) };
    },
    async close() {
      for (const stop of stops) await stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await router.stop();
      await notifier.stop();
      await published.stop();
      worker.shutdown();
      await running;
      await idp.stop();
      await env.teardown();
      await store.close();
    },
  };
}
