/**
 * `forlop pathway`: tools for definition authors.
 *   forlop pathway validate <file...>   check files (schema, extends, semantic checks); exit 1 on problems
 *   forlop pathway export <file|name>   print the FHIR PlanDefinition + ActivityDefinitions as a Bundle
 *   forlop pathway schema               print the JSON Schema of the definition format (for editors)
 *   forlop pathway list                 the built-in definitions
 */
import { existsSync } from 'node:fs';
import { exportPlanDefinition } from '../pathways/export-plan-definition';
import type { Plan } from '../pathways/plan';
import { DefinitionError, formatProblem } from '../pathways/problems';
import { DefinitionRegistry, loadDefinition } from '../pathways/registry';
import { pathwaySchema } from '../pathways/schema';

const USAGE = 'usage: forlop pathway validate <file...> | export <file|name> | schema | list';

function planOf(registry: DefinitionRegistry, fileOrName: string): Plan {
  return existsSync(fileOrName) ? loadDefinition(fileOrName, registry).plan : registry.plan(fileOrName);
}

export async function pathwayCommand(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  const registry = DefinitionRegistry.builtIn();
  switch (verb) {
    case 'validate': {
      if (rest.length === 0) return usage();
      let failed = 0;
      for (const file of rest) {
        try {
          const { plan } = loadDefinition(file, registry);
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
      try {
        console.log(JSON.stringify(exportPlanDefinition(planOf(registry, rest[0])), null, 2));
        return 0;
      } catch (error) {
        if (!(error instanceof DefinitionError)) throw error;
        for (const problem of error.problems) console.error(formatProblem(problem));
        return 1;
      }
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
}

function usage(): number {
  console.error(USAGE);
  return 2;
}
