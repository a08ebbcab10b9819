import { suites } from '../bench';

/** `forlop bench [suite ...]`: runs the named suites, or all of them. */
export async function benchCommand(args: string[]): Promise<number> {
  // Suite names; `--option value` pairs go to the suites.
  const names = args.filter((a, i) => !a.startsWith('-') && !args[i - 1]?.startsWith('--'));
  const unknown = names.filter((n) => !suites[n]);
  if (unknown.length > 0) {
    console.error(`forlop bench: unknown suite ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ') || '(none yet)'}`);
    return 2;
  }
  const chosen = names.length > 0 ? names : Object.keys(suites);
  for (const name of chosen) {
    console.log(`\n== ${name}: ${suites[name].summary}`);
    await suites[name].load().run(args.filter((a) => !names.includes(a)));
  }
  return 0;
}
