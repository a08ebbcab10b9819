/**
 * Options of the bench suites: command-line options, written `--name value`
 * or `--name=value` alike, and the PostgreSQL database to measure on too.
 */
export function textOption(args: string[], name: string): string | undefined;
export function textOption(args: string[], name: string, fallback: string): string;
export function textOption(args: string[], name: string, fallback?: string): string | undefined {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return fallback;
  return args[i].includes('=') ? args[i].slice(args[i].indexOf('=') + 1) : args[i + 1];
}

/** A number option; refuses anything but a finite number of at least `min`. */
export function numberOption(args: string[], name: string, fallback: number, min = 0): number {
  const text = textOption(args, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number of at least ${min}, got '${text}'`);
  return value;
}

/**
 * The PostgreSQL database a suite also measures on, when one is named
 * (FORLOP_BENCH_DATABASE_URL, else FORLOP_TEST_DATABASE_URL). The suite drops
 * its own schema there first.
 */
export function benchDatabaseUrl(): string | undefined {
  return process.env.FORLOP_BENCH_DATABASE_URL ?? process.env.FORLOP_TEST_DATABASE_URL;
}

/** What to set to measure on a PostgreSQL server too. */
export function benchDatabaseHint(schema: string): string {
  return `set FORLOP_BENCH_DATABASE_URL (or FORLOP_TEST_DATABASE_URL, e.g. after \`source .ci/postgres.sh\`) to a database whose schema ${schema} may be dropped`;
}
