/**
 * `forlop temporal`: the embedded Temporal server as a standalone process,
 * for workers, clients and the Temporal CLI on this machine. The same entry
 * also accepts the command lines @temporalio/testing uses for its servers
 * (see bin/temporal-embedded), so any Temporal TypeScript test suite can run
 * on it with `server.executable = { type: 'existing-path', path }`:
 *   <path> <port>                                   (createTimeSkipping)
 *   <path> server start-dev --port N --namespace x  (createLocal)
 */
import { startEmbeddedTemporal, type EmbeddedTemporalOptions, type SearchAttributeType } from '../temporal/embedded';

type TemporalArgs = EmbeddedTemporalOptions & { port: number; dataDir?: string; databaseUrl?: string };

export function parseTemporalArgs(argv: string[]): TemporalArgs {
  const args = [...argv];
  // createTimeSkipping: `<port>` alone (extra args after it are ignored, as the Java test server does).
  if (args.length > 0 && /^\d+$/.test(args[0])) return { port: Number(args[0]), timeSkipping: true };
  if (args[0] === 'server' && args[1] === 'start-dev') args.splice(0, 2);
  const options: TemporalArgs = { port: 7233, host: '127.0.0.1', namespaces: ['default'], timeSkipping: false, searchAttributes: {} };
  const namespaces: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const value = () => inline ?? args[++i];
    switch (flag) {
      case '--port':
      case '-p':
        options.port = Number(value());
        break;
      case '--ip':
        options.host = value();
        break;
      case '--namespace':
      case '-n':
        namespaces.push(value());
        break;
      case '--search-attribute': {
        const [name, type] = value().split('=');
        options.searchAttributes![name] = type as SearchAttributeType;
        break;
      }
      case '--time-skipping':
        options.timeSkipping = true;
        break;
      // Durable state: PGlite in a directory, or a PostgreSQL server (schema temporal).
      case '--data-dir':
        options.dataDir = value();
        break;
      case '--database-url':
        options.databaseUrl = value();
        break;
      case '--retention-days': {
        const days = Number(value());
        if (!Number.isFinite(days) || days < 0) throw new Error(`forlop temporal: --retention-days must be 0 or more, got '${args[i]}'`);
        options.retentionMs = days * 86_400_000;
        break;
      }
      // Options of `temporal server start-dev` that mean nothing here.
      case '--headless':
        break;
      case '--db-filename':
      case '--log-level':
      case '--log-format':
      case '--ui-port':
      case '--ui-ip':
      case '--http-port':
      case '--metrics-port':
      case '--dynamic-config-value':
        value();
        break;
      default:
        throw new Error(
          `forlop temporal: unknown option '${args[i]}'. Options: --port N, --ip ADDR, --namespace NAME (repeatable), --search-attribute NAME=Type, --time-skipping, --data-dir DIR | --database-url postgres://..., --retention-days N`,
        );
    }
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) throw new Error(`forlop temporal: --port must be a port number, got '${options.port}'`);
  if (namespaces.length > 0) options.namespaces = [...new Set(['default', ...namespaces])];
  return options;
}

export async function temporalCommand(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseTemporalArgs(argv);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const durable = options.dataDir || options.databaseUrl;
  const started = Date.now();
  // Loaded only when asked for: the database drivers would slow every start of an in-memory server.
  // require, not import(): tsx's CommonJS loader (bin/forlop.js) does not resolve a dynamic import of a .ts file.
  const storage = durable
    ? // eslint-disable-next-line @typescript-eslint/no-require-imports
      await (require('./temporal-storage') as typeof import('./temporal-storage')).openTemporalStorage({ databaseUrl: options.databaseUrl, dataDir: options.dataDir ?? '' }) : undefined;
  const server = await startEmbeddedTemporal({ ...options, storage, log: (msg, fields) => console.log(`${msg} ${JSON.stringify(fields ?? {})}`) });
  const where = options.databaseUrl ? 'state in PostgreSQL' : options.dataDir ? `state in ${options.dataDir}` : 'state in memory';
  console.log(
    `Forløp embedded Temporal server listening on ${server.address} (namespaces: ${options.namespaces?.join(', ') ?? 'default'}${options.timeSkipping ? ', time skipping' : ''}; ${where}; ready in ${Date.now() - started} ms)`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.stop();
  return 0;
}
