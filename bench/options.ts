/**
 * Command-line options of the bench suites, written `--name value` or
 * `--name=value` alike.
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
