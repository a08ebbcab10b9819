/**
 * Problems in a definition file, each pointing at the exact place in the
 * author's file (file:line:column and the JSON pointer) and saying how to fix
 * it. One error type carries all of them, so an author sees every problem at
 * once rather than one per run.
 */
export interface DefinitionProblem {
  file: string;
  line?: number;
  column?: number;
  /** JSON pointer into the file, e.g. /contacts/3/window/latest. */
  path: string;
  message: string;
  hint?: string;
}

export function formatProblem(p: DefinitionProblem): string {
  const place = p.line ? `${p.file}:${p.line}:${p.column ?? 1}` : p.file;
  return `${place} ${p.path || '/'}: ${p.message}${p.hint ? ` (${p.hint})` : ''}`;
}

export class DefinitionError extends Error {
  override readonly name = 'DefinitionError';
  constructor(readonly problems: DefinitionProblem[]) {
    super(`${problems.length} problem${problems.length === 1 ? '' : 's'} in the pathway definition:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
  }
}

export function pointer(path: readonly (string | number)[]): string {
  return path.length === 0 ? '' : `/${path.map((s) => String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;
}

/** The closest of `candidates` to `word` (Levenshtein distance at most 3), for "did you mean" hints. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of candidates) {
    const d = distance(word, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}
