/**
 * `forlop pathway`: tools for definition authors.
 *   forlop pathway validate <file...>   check files (schema, extends, semantic checks); exit 1 on problems
 *   forlop pathway export <file|name>   print the FHIR PlanDefinition + ActivityDefinitions as a Bundle
 *   forlop pathway import <file.json>   print the definition (YAML) a PlanDefinition (or export's Bundle) carries
 *   forlop pathway try <file|name> --due <date> [--events <file>] [--enrolment <date>] [--until <date>] [--json]
 *                                       one simulated family through the definition (embedded Temporal, time skipping)
 *   forlop pathway test <dir|file...>   run pathway tests (*.test.yaml): a try with expected timeline rows
 *   forlop pathway migrate --from <url|version> --to <url|version> [--families a,b] [--dry-run] --by <who> --reason <why>
 *                                       move running families to another version (a dry run shows each family's diff)
 *   forlop pathway schema               print the JSON Schema of the definition format (for editors)
 *   forlop pathway list                 the built-in definitions (and those in FORLOP_PATHWAYS_DIR)
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadDefinitionsDirectory } from '../pathways/definitions-directory';
import { exportPlanDefinition } from '../pathways/export-plan-definition';
import { flatten } from '../pathways/flatten';
import { importPlanDefinition, PlanDefinitionImportError, toYaml } from '../pathways/import-plan-definition';
import type { MergedDefinition } from '../pathways/merge';
import type { Plan } from '../pathways/plan';
import { DefinitionError, formatProblem } from '../pathways/problems';
import { DefinitionRegistry, loadDefinition } from '../pathways/registry';
import { semanticWarnings } from '../pathways/semantic-checks';
import { pathwaySchema } from '../pathways/schema';
import { formatTimeline, parseTrialScript, TrialInputError, type TrialScript } from '../pathways/trial';

const USAGE = `usage: forlop pathway validate <file...> | export <file|name> | import <PlanDefinition.json> | try <file|name> --due <YYYY-MM-DD> [--events <file>] [--enrolment <date>] [--until <date>] [--json] | test <dir|file...> | migrate --from <url|version> --to <url|version> [--families id,id] [--dry-run] --by <who> --reason <why> | schema | list`;

/** A definition file, or a known definition by url|version or name. */
export function resolveDefinition(registry: DefinitionRegistry, fileOrName: string): { merged: MergedDefinition; plan: Plan } {
  if (existsSync(fileOrName)) return loadDefinition(fileOrName, registry);
  const plan = registry.plan(fileOrName);
  return registry.resolve(registry.sourceOf(plan.canonical)!);
}

/** `--name value` options and the rest. */
export function options(args: string[]): { flags: Record<string, string | true>; rest: string[] } {
  const flags: Record<string, string | true> = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z-]+)$/.exec(args[i]);
    if (!m) rest.push(args[i]);
    else if (args[i + 1] !== undefined && !args[i + 1].startsWith('--')) flags[m[1]] = args[++i];
    else flags[m[1]] = true;
  }
  return { flags, rest };
}

/** The worker's own log lines would drown the timeline: warnings only, on stderr (stdout carries the table or the JSON). */
function quietWorker(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Runtime, DefaultLogger } = require('@temporalio/worker') as typeof import('@temporalio/worker');
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => process.stderr.write(`${entry.level} ${entry.message}\n`)),
    // The SDK core's own lines go through the same logger.
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} } },
  });
}

export async function pathwayCommand(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  const registry = definitionsForTools();
  try {
    switch (verb) {
      case 'validate': {
        if (rest.length === 0) return usage();
        let failed = 0;
        for (const file of rest) {
          try {
            const { plan, merged } = loadDefinition(file, registry);
            // Allowed, but probably not meant (e.g. two steps a result could both fulfil); not a failure.
            for (const warning of semanticWarnings(merged)) console.error(`warning: ${formatProblem(warning)}`);
            const count = (kind: string) => plan.steps.filter((s) => s.kind === kind).length;
            console.log(`ok ${file}: ${plan.canonical} (${count('contact')} contacts, ${count('screening')} screenings, ${count('intervention')} interventions, ${plan.rules.length} rules, ${Object.keys(plan.handoffs).length} handoffs)`);
          } catch (error) {
            if (!(error instanceof DefinitionError)) throw error;
            failed++;
            for (const problem of error.problems) console.error(formatProblem(problem));
          }
        }
        return failed > 0 ? 1 : 0;
      }
      case 'export': {
        if (rest.length !== 1) return usage();
        const { plan, merged } = resolveDefinition(registry, rest[0]);
        console.log(JSON.stringify(exportPlanDefinition(plan, flatten(merged)), null, 2));
        return 0;
      }
      case 'import': {
        if (rest.length !== 1) return usage();
        const doc = importPlanDefinition(JSON.parse(readFileSync(rest[0], 'utf8')));
        process.stdout.write(toYaml(doc, `Imported by forlop pathway import from ${rest[0]} (${doc.url}|${doc.version}).`));
        return 0;
      }
      case 'try': {
        const { flags, rest: positional } = options(rest);
        if (positional.length !== 1) return usage();
        const { plan } = resolveDefinition(registry, positional[0]);
        const script: TrialScript = typeof flags.events === 'string' ? parseTrialScript(readFileSync(flags.events, 'utf8'), flags.events) : { events: [] };
        const due = typeof flags.due === 'string' ? flags.due : script.due;
        if (!due) return usage();
        quietWorker();
        // Loaded here only: it brings the Temporal worker along.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { runTrial } = require('./pathway-trial') as typeof import('./pathway-trial');
        const result = await runTrial(plan, { ...script, due, ...(typeof flags.enrolment === 'string' ? { enrolment: flags.enrolment } : {}) }, typeof flags.until === 'string' ? { until: flags.until } : {});
        if (flags.json) console.log(JSON.stringify({ canonical: plan.canonical, timeline: result.rows, refused: result.refused }, null, 2));
        else {
          console.log(formatTimeline(plan, result.rows));
          for (const r of result.refused) console.log(`refused: ${r.event}: ${r.reason}`);
        }
        return 0;
      }
      case 'test': {
        if (rest.length === 0) return usage();
        quietWorker();
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { runPathwayTests } = require('./pathway-tests') as typeof import('./pathway-tests');
        const outcomes = await runPathwayTests(rest, registry, (line) => console.log(line));
        return outcomes.every((o) => o.failures.length === 0) ? 0 : 1;
      }
      case 'migrate': {
        const { flags } = options(rest);
        if (typeof flags.from !== 'string' || typeof flags.to !== 'string') return usage();
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { migrateCommand } = require('./pathway-migrate-command') as typeof import('./pathway-migrate-command');
        return await migrateCommand(registry, flags as Record<string, string | true> & { from: string; to: string });
      }
      case 'schema':
        console.log(JSON.stringify(pathwaySchema, null, 2));
        return 0;
      case 'list':
        for (const canonical of registry.canonicals()) {
          const plan = registry.plan(canonical);
          console.log(`${plan.name.padEnd(22)} ${canonical}  ${plan.title}`);
        }
        return 0;
      default:
        return usage();
    }
  } catch (error) {
    if (error instanceof DefinitionError) {
      for (const problem of error.problems) console.error(formatProblem(problem));
      return 1;
    }
    if (error instanceof PlanDefinitionImportError) {
      console.error(`${error.expression}: ${error.message}`);
      return 1;
    }
    if (error instanceof TrialInputError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
}

/** The built-in definitions and, when FORLOP_PATHWAYS_DIR (or ./pathways.local) names a directory, those in it. */
function definitionsForTools(): DefinitionRegistry {
  const dir = process.env.FORLOP_PATHWAYS_DIR ?? (existsSync('pathways.local') ? 'pathways.local' : undefined);
  if (!dir) return DefinitionRegistry.builtIn();
  return loadDefinitionsDirectory(dir).registry;
}

function usage(): number {
  console.error(USAGE);
  return 2;
}
