/* eslint-disable @typescript-eslint/no-require-imports */
// The table of `forlop` subcommands, one entry each. Modules are required
// lazily so that a command loads only what it uses.
export type Command = (args: string[]) => Promise<number | void>;

export const commands: Record<string, { summary: string; load: () => Command }> = {
  version: {
    summary: 'print the version',
    load: () => async () => console.log((require('../package.json') as { version: string }).version),
  },
  bench: {
    summary: 'run the benchmarks and print figures (forlop bench [suite])',
    load: () => (require('./bench-command') as typeof import('./bench-command')).benchCommand,
  },
};
