/**
 * The process commands, from one configuration (app/config.ts):
 *  - `forlop start` (`npm start`): everything on one machine with embedded
 *    defaults: the embedded Temporal server, the FHIR store (PGlite in the
 *    data directory, or DATABASE_URL), the HTTP API (with the dev IdP in
 *    development), the pathway worker and the event router.
 *  - `forlop serve`: the HTTP API and the event router, against a Temporal
 *    frontend (TEMPORAL_ADDRESS) and PostgreSQL (DATABASE_URL).
 *  - `forlop worker`: the Temporal worker only.
 * Each stops cleanly on SIGINT/SIGTERM (exit 0; 1 if a component did not).
 */
import { ConfigError, loadConfig } from './config';
import { Runtime } from '@temporalio/worker';
import { createLogger } from './logging';
import { sdkLogger } from './temporal-logging';
import { DefinitionError, formatProblem } from '../pathways/problems';
import type { DefinitionRegistry } from '../pathways/registry';
import { embeddedTemporal, eventRouter, fhirStore, httpServer, loadDefinitions, pathwayWorker, publishedDefinitions, stopAll, type Running } from './components';

type Role = 'start' | 'serve' | 'worker';

async function run(role: Role): Promise<number> {
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
  if (role !== 'start' && config.temporal.kind === 'embedded') {
    console.error(`forlop ${role} connects to a Temporal frontend: set TEMPORAL_ADDRESS (host:port), or run everything on one machine with forlop start`);
    return 2;
  }
  const running: Running = { config, log: createLogger({ level: config.logLevel, base: { service: `forlop-${role}` } }), stops: [] };
  // The worker's own log lines go through the same redaction as ours (before anything creates the Runtime).
  if (role !== 'serve') Runtime.install({ logger: sdkLogger(running.log) });
  let definitions: DefinitionRegistry;
  try {
    definitions = loadDefinitions(running);
  } catch (error) {
    if (!(error instanceof DefinitionError)) throw error;
    // The same lines as `forlop pathway validate`: the start is refused until every file is right.
    console.error(`forlop ${role}: the pathway definitions in ${config.pathwaysDir} have problems; nothing was started:`);
    for (const problem of error.problems) console.error(formatProblem(problem));
    return 1;
  }
  try {
    if (role === 'start' && config.temporal.kind === 'embedded') await embeddedTemporal(running);
    const { store, failed } = await fhirStore(running);
    const published = await publishedDefinitions(running, store, definitions);
    if (role !== 'worker') await httpServer(running, store, published, failed);
    if (role !== 'serve') await pathwayWorker(running, store, published);
    if (role !== 'worker') await eventRouter(running, store, published, failed, definitions);
  } catch (error) {
    running.log.error({ err: error }, 'start-up failed');
    await stopAll(running);
    return 1;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  running.log.info('shutting down');
  return (await stopAll(running)) ? 0 : 1;
}

export const startCommand = () => run('start');
export const serveCommand = () => run('serve');
export const workerCommand = () => run('worker');
