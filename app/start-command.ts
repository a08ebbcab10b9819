/**
 * `forlop start` (`npm start`): Forløp on embedded defaults, on one machine.
 * What it runs today: the embedded Temporal server (on FORLOP_EMBEDDED_TEMPORAL_PORT,
 * so workers, clients and the Temporal CLI can reach it) and, in development,
 * the built-in OIDC provider with the demo clients. The FHIR API, the worker
 * and the dashboard join this command as they land (see README "What exists").
 * Stops cleanly on SIGINT/SIGTERM.
 */
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logging';
import { startEmbeddedTemporal } from '../temporal/embedded';
import { startDevIdp } from './dev-idp';

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
  try {
    if (config.temporal.kind === 'embedded') {
      const [host, port] = config.temporal.address.split(':');
      const temporal = await startEmbeddedTemporal({ host, port: Number(port), namespaces: [...new Set(['default', config.temporal.namespace])], log: (msg, fields) => log.info(fields ?? {}, msg) });
      stops.push(() => temporal.stop());
      log.info({ temporalAddress: temporal.address, namespace: config.temporal.namespace }, 'embedded Temporal server listening');
    } else {
      log.info({ temporalAddress: config.temporal.address }, 'using the external Temporal frontend');
    }
    if (config.auth.kind === 'dev-idp') {
      const idp = await startDevIdp({ port: config.auth.devIdpPort });
      stops.push(() => idp.stop());
      log.info({ issuer: idp.issuer, clients: Object.keys(idp.clients) }, 'development OIDC provider running (demo clients; never use in production)');
    }
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
  for (const stop of stops.reverse()) await stop();
  return 0;
}
