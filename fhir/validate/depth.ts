/**
 * How deep a JSON value nests, found without recursion. FHIR content is
 * shallow (a transaction Bundle with a nested Questionnaire stays under 40
 * levels); a body nested thousands deep is an attack or a bug, and every
 * recursive walk after it (schema and StructureDefinition validation,
 * FHIRPath, access checks) could exhaust the stack. It is refused first.
 */
export const MAX_DEPTH = 100;

/** The path (FHIRPath-like, from `root`) of the first value nested deeper than `max`, or undefined. */
export function tooDeep(value: unknown, root: string, max = MAX_DEPTH): string | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: root, depth: 0 }];
  while (stack.length > 0) {
    const { value: v, path, depth } = stack.pop()!;
    if (!v || typeof v !== 'object') continue;
    if (depth >= max) return path;
    if (Array.isArray(v)) v.forEach((item, i) => stack.push({ value: item, path: `${path}[${i}]`, depth: depth + 1 }));
    else for (const [key, item] of Object.entries(v)) stack.push({ value: item, path: `${path}.${key}`, depth: depth + 1 });
  }
  return undefined;
}
