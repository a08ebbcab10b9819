/**
 * A deployment's own definitions: every YAML/JSON file in one directory
 * (FORLOP_PATHWAYS_DIR, default ./pathways.local), checked as
 * `forlop pathway validate` checks them, added to the built-in ones. All or
 * nothing: one problem in one file refuses the whole directory, so a process
 * never runs with half of a deployment's definitions.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { canonicalOf } from './merge';
import { DefinitionError, type DefinitionProblem } from './problems';
import { DefinitionRegistry } from './registry';
import { readSourceFile, type SourceFile } from './source-file';

export interface LoadedDirectory {
  registry: DefinitionRegistry;
  /** url|version of each definition the directory added, in file order. */
  added: string[];
}

export function definitionFilesIn(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new DefinitionError([{ file: dir, path: '', message: `cannot read the definitions directory: ${(error as Error).message}` }]);
  }
  return names
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** The built-in definitions (or `base`) and every definition in `dir`; throws DefinitionError listing every problem of every file. */
export function loadDefinitionsDirectory(dir: string, base: DefinitionRegistry = DefinitionRegistry.builtIn()): LoadedDirectory {
  const registry = base.copy();
  const problems: DefinitionProblem[] = [];
  const sources: SourceFile[] = [];
  for (const file of definitionFilesIn(path.resolve(dir))) {
    try {
      sources.push(readSourceFile(file));
    } catch (error) {
      if (!(error instanceof DefinitionError)) throw error;
      problems.push(...error.problems);
    }
  }
  for (const source of sources) {
    const canonical = canonicalOf(source.document);
    const known = registry.sourceOf(canonical);
    if (known) {
      // A url|version names one definition for ever: families pinned to it must not see it change.
      problems.push(source.problem(['version'], `${canonical} is already defined by ${known.file}`, 'publish a change as a new version'));
      continue;
    }
    registry.add(source);
  }
  for (const source of sources) {
    if (registry.sourceOf(canonicalOf(source.document)) !== source) continue;
    try {
      registry.resolve(source);
    } catch (error) {
      if (!(error instanceof DefinitionError)) throw error;
      problems.push(...error.problems);
    }
  }
  if (problems.length > 0) throw new DefinitionError(problems);
  return { registry, added: sources.map((s) => canonicalOf(s.document)) };
}
