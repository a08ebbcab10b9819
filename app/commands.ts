/* eslint-disable @typescript-eslint/no-require-imports */
// The table of `forlop` subcommands, one entry each. Modules are required
// lazily so that a command loads only what it uses.
export type Command = (args: string[]) => Promise<number | void>;

export const commands: Record<string, { summary: string; load: () => Command }> = {
  version: {
    summary: 'print the version',
    load: () => async () => console.log((require('../package.json') as { version: string }).version),
  },
  start: {
    summary: 'run Forløp on embedded defaults (npm start); configuration in docs/configuration.md',
    load: () => (require('./start-command') as typeof import('./start-command')).startCommand,
  },
  serve: {
    summary: 'run the HTTP API and the event router against a Temporal frontend (TEMPORAL_ADDRESS) and PostgreSQL (DATABASE_URL)',
    load: () => (require('./start-command') as typeof import('./start-command')).serveCommand,
  },
  worker: {
    summary: 'run the Temporal worker (family pathways and handoffs) against a Temporal frontend (TEMPORAL_ADDRESS)',
    load: () => (require('./start-command') as typeof import('./start-command')).workerCommand,
  },
  temporal: {
    summary: 'run the embedded Temporal server (--port 7233 --ip 127.0.0.1 --namespace x --time-skipping)',
    load: () => (require('./temporal-command') as typeof import('./temporal-command')).temporalCommand,
  },
  pathway: {
    summary: 'pathway definition tools: validate <file...>, export <file|name>, import <file.json>, try <file|name> --due <date>, test <dir>, migrate --from --to, schema, list',
    load: () => (require('./pathway-command') as typeof import('./pathway-command')).pathwayCommand,
  },
  demo: {
    summary: 'watch Forløp work in a minute: two families, a referral there and back, an escalation, on a clock that skips ahead',
    load: () => (require('./demo-command') as typeof import('./demo-command')).demoCommand,
  },
  bench: {
    summary: 'run the benchmarks and print figures (forlop bench [suite])',
    load: () => (require('./bench-command') as typeof import('./bench-command')).benchCommand,
  },
};
