/**
 * Entry points of the `forlop` command. Subcommands are listed in
 * ./commands and loaded only when asked for, so `forlop pathway validate`
 * does not start a database or a server.
 */
import { commands } from './commands';

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  forlop ${name.padEnd(18)} ${c.summary}`);
  return ['Usage: forlop <command> [options]', '', 'Commands:', ...lines].join('\n');
}

export async function main(argv: string[]): Promise<number | void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const command = commands[name];
  if (!command) {
    console.error(`forlop: unknown command '${name}'.\n\n${usage()}`);
    return 2;
  }
  return command.load()(rest);
}
