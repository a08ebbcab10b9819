import { suites } from '../bench';

/** `forlop bench [suite ...]`: runs the named suites, or all of them. */
export async function benchCommand(args: string[]): Promise<number> {
  const names = args.filter((a) => !a.startsWith('-'));
  const unknown = names.filter((n) => !suites[n]);
  if (unknown.length > 0) {
    console.error(`forlop bench: unknown suite ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ') || '(none yet)'}`);
    return 2;
  }
  const chosen = names.length > 0 ? names : Object.keys(suites);
  for (const name of chosen) {
    console.log(`\n== ${name}: ${suites[name].summary}`);
    await suites[name].load().run(args.filter((a) => a.startsWith('-')));
  }
  return 0;
}
