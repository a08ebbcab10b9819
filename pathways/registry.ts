/**
 * Finding and loading definitions: the built-in ones in
 * pathways/definitions/, any others added, and the files next to a
 * definition that extends one of them. `load` runs the whole chain: parse,
 * schema, extends, semantic checks, compile.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { compile } from './compile';
import { canonicalOf, merge, type DefinitionLookup, type MergedDefinition } from './merge';
import type { Plan } from './plan';
import { DefinitionError } from './problems';
import { semanticProblems } from './semantic-checks';
import { readSourceFile, type SourceFile } from './source-file';

export const BUILT_IN_DIRECTORY = path.join(__dirname, 'definitions');

const definitionFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));

export class DefinitionRegistry implements DefinitionLookup {
  private readonly byCanonical = new Map<string, SourceFile>();
  private readonly scanned = new Set<string>();

  /** A registry of the built-in definitions. */
  static builtIn(): DefinitionRegistry {
    const registry = new DefinitionRegistry();
    for (const file of definitionFiles(BUILT_IN_DIRECTORY)) registry.add(readSourceFile(file));
    return registry;
  }

  add(source: SourceFile): this {
    this.byCanonical.set(canonicalOf(source.document), source);
    return this;
  }

  /** The source a url|version was added from, if any (every version is kept: families stay pinned to theirs). */
  sourceOf(canonical: string): SourceFile | undefined {
    return this.byCanonical.get(canonical);
  }

  /** A registry with every definition of this one; adding to it leaves this one as it is. */
  copy(): DefinitionRegistry {
    const registry = new DefinitionRegistry();
    for (const source of this.byCanonical.values()) registry.add(source);
    return registry;
  }

  canonicals(): string[] {
    return [...this.byCanonical.keys()];
  }

  find(canonical: string, near: SourceFile): SourceFile | undefined {
    const known = this.byCanonical.get(canonical);
    if (known) return known;
    // A local variant may extend a file beside it that is not built in.
    const dir = path.dirname(near.file);
    if (!this.scanned.has(dir)) {
      this.scanned.add(dir);
      for (const file of definitionFiles(dir)) {
        if (file === near.file) continue;
        try {
          const source = readSourceFile(file);
          if (!this.byCanonical.has(canonicalOf(source.document))) this.add(source);
        } catch {
          // Not a (valid) definition; only the one asked for matters here.
        }
      }
    }
    return this.byCanonical.get(canonical);
  }

  /** Everything about one definition, checked: the merged entries and the compiled plan. */
  resolve(source: SourceFile): { merged: MergedDefinition; plan: Plan } {
    const merged = merge(source, this);
    const problems = semanticProblems(merged);
    if (problems.length) throw new DefinitionError(problems);
    return { merged, plan: compile(merged) };
  }

  /** The compiled plan of a known definition by url|version (or its name, newest version). */
  plan(canonicalOrName: string): Plan {
    const source =
      this.byCanonical.get(canonicalOrName) ??
      [...this.byCanonical.values()].filter((s) => s.document.name === canonicalOrName).sort((a, b) => compareVersions(b.document.version, a.document.version))[0];
    if (!source) throw new Error(`No pathway definition '${canonicalOrName}'; known: ${this.canonicals().join(', ')}`);
    return this.resolve(source).plan;
  }
}

/** Load, check and compile one definition file (throws DefinitionError listing every problem). */
export function loadDefinition(file: string, registry: DefinitionRegistry = DefinitionRegistry.builtIn()): { merged: MergedDefinition; plan: Plan } {
  return registry.resolve(readSourceFile(path.resolve(file)));
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => Number(x) || 0);
  const pb = b.split(/[.-]/).map((x) => Number(x) || 0);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}
