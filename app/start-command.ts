/**
 * `forlop start` (`npm start`): Forløp on embedded defaults, on one machine.
 * What it runs today: the embedded Temporal server (on FORLOP_EMBEDDED_TEMPORAL_PORT,
 * so workers, clients and the Temporal CLI can reach it), the FHIR store
 * (PGlite in the data directory, or DATABASE_URL), the HTTP server with the
 * FHIR API behind authentication, scopes and audit, and in development the
 * built-in OIDC provider with the demo clients, the Temporal worker that
 * runs the family pathways (payloads encrypted with FORLOP_PAYLOAD_KEYS, or in
 * development with a key kept in the data directory), and the event router
 * that turns FHIR writes into pathway events.
 * Stops cleanly on SIGINT/SIGTERM.
 */
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logging';
import { startEmbeddedTemporal } from '../temporal/embedded';
import { startDevIdp, DEV_ORGANISATIONS } from './dev-idp';
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { FhirStore, openPglite, openPostgres } from '../fhir/store';
import { buildHttpApp } from './http';
import { createPathwayActivities } from '../activities/pathway-effects';
import { DefinitionRegistry } from '../pathways/registry';
import { createDataConverter } from '../temporal/codec';
import { connectClient, connectWorkerConnection } from '../temporal/connection';
import { EventRouter } from '../events/router';
import { createForlopWorker } from '../temporal/worker';
import { developmentPayloadKeys } from './dev-payload-key';
import { readFileSync } from 'node:fs';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { RemoteFhirRepository } from '../fhir/client/remote-repository';
import type { ExternalFhirSettings } from './config';

/** The external FHIR server the workflows write to, authenticated as HelseID expects (private_key_jwt, DPoP). */
async function remoteFhir(settings: ExternalFhirSettings): Promise<RemoteFhirRepository> {
  const jwk = JSON.parse(readFileSync(settings.privateKeyPath, 'utf8')) as JWK;
  const privateKey = (await importJWK(jwk, jwk.alg ?? 'RS256')) as CryptoKey;
  return new RemoteFhirRepository({ baseUrl: settings.baseUrl, auth: { issuer: settings.issuer, clientId: settings.clientId, privateKey, kid: jwk.kid, scope: settings.scope, resource: settings.resource } });
}

export async function startCommand(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const log = createLogger({ level: config.logLevel });
  const stops: (() => Promise<void>)[] = [];
  let store: FhirStore | undefined;
  try {
    if (config.temporal.kind === 'embedded') {
      const [host, port] = config.temporal.address.split(':');
      const temporal = await startEmbeddedTemporal({ host, port: Number(port), namespaces: [...new Set(['default', config.temporal.namespace])], log: (msg, fields) => log.info(fields ?? {}, msg) });
      stops.push(() => temporal.stop());
      log.info({ temporalAddress: temporal.address, namespace: config.temporal.namespace }, 'embedded Temporal server listening');
    } else {
      log.info({ temporalAddress: config.temporal.address }, 'using the external Temporal frontend');
    }
    let issuer = config.auth.issuer;
    let organisations: Record<string, string> = {};
    if (config.auth.kind === 'dev-idp') {
      const idp = await startDevIdp({ port: config.auth.devIdpPort });
      stops.push(() => idp.stop());
      issuer = idp.issuer;
      organisations = { ...DEV_ORGANISATIONS };
      log.info({ issuer: idp.issuer, clients: Object.keys(idp.clients) }, 'development OIDC provider running (demo clients; never use in production)');
    }
    if (config.database.url) {
      store = await FhirStore.open(await openPostgres(config.database.url));
    } else {
      mkdirSync(config.database.dataDir, { recursive: true });
      store = await FhirStore.open(await openPglite(config.database.dataDir));
    }
    const fhirStore = store;
    stops.push(() => fhirStore.close());
    if (config.auth.kind === 'disabled') log.warn('AUTHENTICATION IS DISABLED (FORLOP_AUTH=disabled): every API call is anonymous. Never run like this with real data.');
    const app = await buildHttpApp({
      store: fhirStore,
      publicUrl: config.http.publicUrl,
      auth: config.auth.kind === 'disabled' ? undefined : { ...config.auth, issuer: issuer!, organisations },
      onAuditWriteError: (error) => log.error({ err: error }, 'an AuditEvent could not be written'),
    });
    const server: Server = app.listen(config.http.port, config.http.host);
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
    stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    log.info({ url: `${config.http.publicUrl}/fhir` }, 'FHIR API listening');

    const keys = config.payloadKeys ?? developmentPayloadKeys(config.dataDir);
    const connection = await connectWorkerConnection({ ...config.temporal, compression: config.temporal.kind === 'embedded' ? 'none' : 'gzip' });
    const registry = DefinitionRegistry.builtIn();
    const worker = await createForlopWorker({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      activities: createPathwayActivities({ fhir: config.externalFhir ? await remoteFhir(config.externalFhir) : fhirStore, plans: registry }),
      dataConverter: createDataConverter(keys),
    });
    const running = worker.run();
    stops.push(async () => {
      // The SDK also reacts to SIGINT/SIGTERM by draining the worker itself.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    });
    log.info({ taskQueue: config.temporal.taskQueue, definitions: registry.canonicals() }, 'pathway worker running');

    // FHIR writes drive the workflows: the event router follows the store's change feed.
    const client = await connectClient(config.temporal, createDataConverter(keys));
    const router = new EventRouter({ store: fhirStore, client, taskQueue: config.temporal.taskQueue, plans: registry, log: (msg, fields) => log.info(fields ?? {}, msg) });
    router.start();
    stops.push(async () => {
      await router.stop();
      await client.connection.close();
    });
    log.info('event router following the FHIR change feed');
  } catch (error) {
    log.error({ err: error }, 'start-up failed');
    for (const stop of stops.reverse()) await stop();
    return 1;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log.info('shutting down');
  let clean = true;
  for (const stop of stops.reverse()) {
    try {
      await stop();
    } catch (error) {
      clean = false;
      log.error({ err: error }, 'a component did not stop cleanly');
    }
  }
  return clean ? 0 : 1;
}
