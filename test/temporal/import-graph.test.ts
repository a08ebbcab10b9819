/**
 * The embedded server's module graph: no module imports itself through
 * others (a circle makes load order matter and hides which part owns what),
 * and the core imports none of the state machines (docs/embedded-temporal.md,
 * "Where things are"). Type-only imports count too: they are the same
 * coupling for a reader.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../../temporal/embedded');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sources(full);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [full] : [];
  });
}

function graph(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const file of sources(root)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/^(?:import|export)[^;]*?from '(\.[^']+)'/gms)].map((m) => path.resolve(path.dirname(file), m[1]) + '.ts');
    edges.set(path.relative(root, file), targets.filter((t) => t.startsWith(root)).map((t) => path.relative(root, t)));
  }
  return edges;
}

function findCycle(edges: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'open') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of edges.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('the embedded server modules', () => {
  const edges = graph();

  it('are read from the tree (the scan sees the core, the engine and the machines)', () => {
    expect(edges.get('engine.ts')).toEqual(expect.arrayContaining(['core.ts', 'machines/activity.ts', 'machines/workflow-task.ts']));
  });

  it('import one another without a circle', () => {
    expect(findCycle(edges)).toBeUndefined();
  });

  it('keep the core free of the state machines and the engine', () => {
    expect((edges.get('core.ts') ?? []).filter((t) => t.startsWith('machines/') || t === 'engine.ts')).toEqual([]);
  });

  it('keep the state machines free of the engine facade', () => {
    const offenders = [...edges].filter(([from, to]) => from.startsWith('machines/') && to.includes('engine.ts')).map(([from]) => from);
    expect(offenders).toEqual([]);
  });
});
