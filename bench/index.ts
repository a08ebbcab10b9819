/**
 * `npm run bench`: runs the benchmark suites and prints their figures.
 * Each suite is a module exporting `run(args)`; `forlop bench <name>` runs
 * one, no name runs all in order. Suites are required lazily so that one
 * suite's setup does not cost another's figures.
 */
export interface BenchSuite {
  summary: string;
  load: () => { run: (args: string[]) => Promise<void> };
}

export const suites: Record<string, BenchSuite> = {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  fhir: { summary: 'FHIR API: creates/s vs raw inserts, transactions, search latency', load: () => require('./fhir') },
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  temporal: { summary: 'embedded Temporal server: workflows/s, signals/s, server CPU share; the same on durable storage (PGlite, PostgreSQL)', load: () => require('./temporal') },
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  cohort: { summary: 'N families (default 1,000) through the whole pathway with time skipping: wall time, families/s, peak memory', load: () => require('./cohort') },
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  'cohort-floor': { summary: "the cohort's wake-ups with no pathway (timers and no-op activities): what the SDK and the embedded server cost under the cohort figure", load: () => require('./cohort-floor') },
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  handoffs: { summary: 'handoff reaction time (Task write -> workflow state) p50/p95; 1,000 concurrent FHIR writes: events/s, lost, duplicated', load: () => require('./handoffs') },
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  restart: { summary: 'forlop start killed (SIGKILL) with N families (default 1,000) in flight and restarted: seconds to serving, state loaded, memory', load: () => require('./restart') },
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  'auth-audit': { summary: 'requests/s with and without authentication (Bearer, DPoP) and audit: the middleware alone, then through the whole API', load: () => require('./auth-audit') },
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  dashboard: { summary: 'the coordinator dashboard: the families page with N families (default 1,000), render alone and the whole page in Chromium', load: () => require('./dashboard') },
};
