/**
 * The pieces a Forløp process runs, each started from the one configuration
 * and registering how to stop it. `forlop start` runs them all on one
 * machine (with the embedded Temporal server); `forlop serve` (HTTP API and
 * event router) and `forlop worker` (the Temporal worker) split them for a
 * production stack with a Temporal cluster and PostgreSQL.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { createPathwayActivities } from '../activities/pathway-effects';
import { EventRouter } from '../events/router';
import { RemoteFhirRepository } from '../fhir/client/remote-repository';
import { createSubscriptionActivities } from '../subscriptions/delivery-activities';
import { SubscriptionNotifier } from '../subscriptions/notifier';
import { FhirStore, openPglite, openPostgres, type Db } from '../fhir/store';
import { FailedEvents } from '../events/failed-events';
import { loadDefinitionsDirectory } from '../pathways/definitions-directory';
import { PublishedDefinitions } from '../pathways/published-definitions';
import { DefinitionRegistry } from '../pathways/registry';
import { createDataConverter, type PayloadEncryptionConfig } from '../temporal/codec';
import { connectClient, connectWorkerConnection } from '../temporal/connection';
import { startEmbeddedTemporal } from '../temporal/embedded';
import { createForlopWorker } from '../temporal/worker';
import type { Config, ExternalFhirSettings } from './config';
import { DEV_API_RESOURCE, DEV_ORGANISATIONS, startDevIdp } from './dev-idp';
import { devDirectory, loadDevDirectory } from './dev-directory';
import { developmentSigningKey } from './dev-idp-key';
import { DASHBOARD_CLIENT_ID, devDashboardSecret } from './dev-idp-login';
import { developmentPayloadKeys } from './dev-payload-key';
import { buildHttpApp, type DashboardSettings } from './http';
import { openTemporalStorage } from './temporal-storage';

export type Stop = () => Promise<void>;

export interface Running {
  config: Config;
  log: Logger;
  stops: Stop[];
}

export async function embeddedTemporal({ config, log, stops }: Running): Promise<void> {
  const [host, port] = config.temporal.address.split(':');
  const settings = config.temporal;
  const storage = settings.embeddedStorage === 'durable' ? await openTemporalStorage({ databaseUrl: config.database.url, dataDir: settings.embeddedDataDir }) : undefined;
  const temporal = await startEmbeddedTemporal({
    host,
    port: Number(port),
    namespaces: [...new Set(['default', settings.namespace])],
    storage,
    retentionMs: settings.embeddedRetentionMs,
    log: (msg, fields) => log.info(fields ?? {}, msg),
  });
  stops.push(() => temporal.stop());
  log.info({ temporalAddress: temporal.address, namespace: settings.namespace, storage: storage ? (config.database.url ? 'postgresql' : 'pglite') : 'memory' }, 'embedded Temporal server listening');
}

/** The FHIR store, and on the same database the event router's failed events. */
export async function fhirStore({ config, stops }: Running): Promise<{ store: FhirStore; failed: FailedEvents }> {
  let db: Db;
  if (config.database.url) {
    db = await openPostgres(config.database.url);
  } else {
    mkdirSync(config.database.dataDir, { recursive: true });
    db = await openPglite(config.database.dataDir);
  }
  const store = await FhirStore.open(db);
  stops.push(() => store.close());
  return { store, failed: new FailedEvents(db) };
}

/** Payload keys: configured, or in development one kept in the data directory. */
export function payloadKeys(config: Config): PayloadEncryptionConfig {
  return config.payloadKeys ?? developmentPayloadKeys(config.dataDir);
}

/** The HTTP API: authentication (the dev IdP in development), scopes, organisation access, audit. */
export async function httpServer(running: Running, store: FhirStore, definitions: PublishedDefinitions, failed: FailedEvents): Promise<void> {
  const { config, log, stops } = running;
  let issuer = config.auth.issuer;
  let organisations: Record<string, string> = {};
  if (config.auth.kind === 'dev-idp') {
    const dashboardUrl = config.http.publicUrl;
    const idp = await startDevIdp({
      port: config.auth.devIdpPort,
      signingKey: await developmentSigningKey(config.dataDir),
      dashboard: { redirectUris: [`${dashboardUrl}/auth/callback`], postLogoutRedirectUris: [`${dashboardUrl}/auth/logged-out`] },
    });
    stops.push(() => idp.stop());
    issuer = idp.issuer;
    organisations = { ...DEV_ORGANISATIONS };
    log.info({ issuer: idp.issuer, clients: Object.keys(idp.clients) }, 'development OIDC provider running (demo clients; never use in production)');
  }
  if (config.mode === 'development') {
    const written = await loadDevDirectory(store);
    log.info({ organisations: devDirectory().map((o) => `Organization/${o.id}`), written }, 'development organisation directory loaded (GET /fhir/Organization)');
  }
  if (config.auth.kind === 'disabled') log.warn('AUTHENTICATION IS DISABLED (FORLOP_AUTH=disabled): every API call is anonymous. Never run like this with real data.');
  const temporal = await connectClient(config.temporal, createDataConverter(payloadKeys(config)));
  stops.push(() => temporal.connection.close());
  let stopDashboard: Stop | undefined;
  const app = await buildHttpApp({
    store,
    failed,
    temporal,
    log,
    publicUrl: config.http.publicUrl,
    auth: config.auth.kind === 'disabled' ? undefined : { ...config.auth, issuer: issuer!, organisations },
    onAuditWriteError: (error) => log.error({ err: error }, 'an AuditEvent could not be written'),
    definitions: () => definitions.registry,
    dashboard: dashboardSettings(config, (stop) => (stopDashboard = stop), log),
  });
  const server: Server = app.listen(config.http.port, config.http.host);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  // Stopped before the server (stops run in reverse): its open event streams would keep server.close waiting.
  if (stopDashboard) stops.push(stopDashboard);
  log.info({ url: `${config.http.publicUrl}/fhir`, coordinatorApi: `${config.http.publicUrl}/api` }, 'FHIR API and coordinator API listening');
  if (config.auth.kind !== 'disabled') {
    const dashboard = `${config.http.publicUrl}/`;
    log.info({ dashboard }, config.auth.kind === 'dev-idp' ? 'coordinator dashboard: open it in a browser and log in as "koordinator"' : 'coordinator dashboard');
    if (config.auth.kind === 'dev-idp') console.log(`\nForløp is running. Open ${dashboard} in a browser and pick "koordinator" to log in.\n`);
  }
}

/**
 * The dashboard's OIDC client: in development the dev IdP's demo client; with
 * an external issuer, FORLOP_DASHBOARD_CLIENT_ID and _SECRET (without them,
 * no dashboard, only the APIs).
 */
function dashboardSettings(config: Config, onStop: (stop: Stop) => void, log: Logger): DashboardSettings | undefined {
  if (config.auth.kind === 'disabled') return undefined;
  const client = config.auth.kind === 'dev-idp' ? { clientId: DASHBOARD_CLIENT_ID, clientSecret: devDashboardSecret(), resource: DEV_API_RESOURCE } : config.dashboard;
  if (!client) {
    log.warn('no coordinator dashboard: set FORLOP_DASHBOARD_CLIENT_ID and FORLOP_DASHBOARD_CLIENT_SECRET (its client at the OIDC issuer) to serve it');
    return undefined;
  }
  // The dashboard calls this server's own API over loopback, as any client would.
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
  return {
    ...client,
    apiBaseUrl: `http://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`,
    services: config.services,
    onStop,
    onError: (error) => log.error({ err: error }, 'dashboard error'),
  };
}

/** The external FHIR server the workflows write to, authenticated as HelseID expects (private_key_jwt, DPoP). */
async function remoteFhir(settings: ExternalFhirSettings): Promise<RemoteFhirRepository> {
  const jwk = JSON.parse(readFileSync(settings.privateKeyPath, 'utf8')) as JWK;
  const privateKey = (await importJWK(jwk, jwk.alg ?? 'RS256')) as CryptoKey;
  return new RemoteFhirRepository({ baseUrl: settings.baseUrl, auth: { issuer: settings.issuer, clientId: settings.clientId, privateKey, kid: jwk.kid, scope: settings.scope, resource: settings.resource } });
}

/**
 * The definitions every role of this deployment runs on: the built-in ones
 * and those in the configured directory, checked whole before anything
 * starts (throws DefinitionError with every problem: the start is refused,
 * never half-loaded). The worker and the router of one process share them;
 * separate processes read the same directory.
 */
export function loadDefinitions({ config, log }: Pick<Running, 'config' | 'log'>): DefinitionRegistry {
  if (!config.pathwaysDir) return DefinitionRegistry.builtIn();
  const { registry, added } = loadDefinitionsDirectory(config.pathwaysDir);
  log.info({ dir: config.pathwaysDir, definitions: added }, 'local pathway definitions loaded');
  return registry;
}

/** Definitions published over FHIR, taken into this process's registry as they appear (every process follows the same store). */
export async function publishedDefinitions({ log, stops }: Running, store: FhirStore, registry: DefinitionRegistry): Promise<PublishedDefinitions> {
  const published = new PublishedDefinitions(store, registry, (msg, fields) => log.info(fields ?? {}, msg));
  await published.start();
  stops.push(() => published.stop());
  return published;
}

/** The Temporal worker running the family pathways and handoffs, with encrypted payloads. */
export async function pathwayWorker({ config, log, stops }: Running, store: FhirStore, definitions: PublishedDefinitions): Promise<void> {
  const registry = definitions.registry;
  const connection = await connectWorkerConnection({ ...config.temporal, compression: config.temporal.kind === 'embedded' ? 'none' : 'gzip' });
  const worker = await createForlopWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    activities: withFaults(config, {
      ...createPathwayActivities({ fhir: config.externalFhir ? await remoteFhir(config.externalFhir) : store, plans: definitions.plans() }),
      ...createSubscriptionActivities({ store }),
    }),
    dataConverter: createDataConverter(payloadKeys(config)),
  });
  const running = worker.run();
  stops.push(async () => {
    // The SDK also reacts to SIGINT/SIGTERM by draining the worker itself.
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running;
    await connection.close();
  });
  log.info({ taskQueue: config.temporal.taskQueue, definitions: registry.canonicals() }, 'pathway worker running');
}

/**
 * Crash tests only: each activity does its work and then waits before it
 * reports, so a test can kill the worker after an activity's effects and
 * before the server hears of them (the retry must not apply them twice).
 */
function withFaults<T extends Record<string, unknown>>(config: Config, activities: T): T {
  const delay = config.faults?.activityCompletionDelayMs;
  if (!delay) return activities;
  const slowed: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    slowed[name] = async (...args: unknown[]) => {
      const result = await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      await new Promise((resolve) => setTimeout(resolve, delay));
      return result;
    };
  }
  return slowed as T;
}

/** The event router (FHIR writes drive the workflows) and the subscription notifier (FHIR writes reach subscribers). */
export async function eventRouter({ config, log, stops }: Running, store: FhirStore, definitions: PublishedDefinitions, failed: FailedEvents, registry: DefinitionRegistry): Promise<void> {
  const client = await connectClient(config.temporal, createDataConverter(payloadKeys(config)));
  const router = new EventRouter({ store, failed, client, taskQueue: config.temporal.taskQueue, plans: { ...definitions.plans(), canonicals: () => registry.canonicals() }, services: config.services, log: (msg, fields) => log.info(fields ?? {}, msg) });
  const notifier = new SubscriptionNotifier({ store, client, taskQueue: config.temporal.taskQueue, log: (msg, fields) => log.info(fields ?? {}, msg) });
  router.start();
  notifier.start();
  stops.push(async () => {
    await Promise.all([router.stop(), notifier.stop()]);
    await client.connection.close();
  });
  log.info('event router and subscription notifier following the FHIR change feed');
}

/** Stops everything in reverse order; every component is stopped even if one fails. */
export async function stopAll({ log, stops }: Running): Promise<boolean> {
  let clean = true;
  for (const stop of [...stops].reverse()) {
    try {
      await stop();
    } catch (error) {
      clean = false;
      log.error({ err: error }, 'a component did not stop cleanly');
    }
  }
  return clean;
}
