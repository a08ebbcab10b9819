/**
 * `forlop pathway test`: a municipality's own pathway tests, kept as YAML
 * beside its variant. Each `*.test.yaml` names a definition (a file, relative
 * to the test, or a known name or url|version), a due date and the events of
 * a simulated family, and the timeline rows it expects (`expect`) or must
 * not see (`absent`); the run is `forlop pathway try`'s (./pathway-trial.ts).
 *
 *   definition: ../helsestasjon.yaml
 *   due: 2027-05-01
 *   events:
 *     - { on: 2027-04-28, birth: true }
 *     - { at: birth+6w, screening: epds, score: 14 }
 *   expect:
 *     - { kind: handoff, id: mental-health-referral }
 *   absent:
 *     - { kind: contact, id: hs-8m }
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { DefinitionRegistry } from '../pathways/registry';
import { parseTrialScript, TrialInputError, unmetExpectations, type ExpectedRow } from '../pathways/trial';
import { resolveDefinition } from './pathway-command';
import { runTrial } from './pathway-trial';

export interface PathwayTestOutcome {
  file: string;
  failures: string[];
}

interface PathwayTestFile {
  definition: string;
  due: string;
  enrolment?: string;
  until?: string;
  expect?: ExpectedRow[];
  absent?: ExpectedRow[];
}

export function pathwayTestFiles(paths: string[]): string[] {
  return paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => f.endsWith('.test.yaml') || f.endsWith('.test.yml'))
          .sort()
          .map((f) => path.join(p, f))
      : [p],
  );
}

export async function runPathwayTests(paths: string[], registry: DefinitionRegistry, print: (line: string) => void = () => {}): Promise<PathwayTestOutcome[]> {
  const outcomes: PathwayTestOutcome[] = [];
  const files = pathwayTestFiles(paths);
  if (files.length === 0) throw new TrialInputError(`no pathway tests (*.test.yaml) in ${paths.join(', ')}`);
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const spec = parseDocument(text).toJS() as PathwayTestFile;
    if (typeof spec?.definition !== 'string' || typeof spec.due !== 'string') throw new TrialInputError(`${file}: a pathway test needs 'definition' (a file or name) and 'due' (YYYY-MM-DD)`);
    const beside = path.resolve(path.dirname(file), spec.definition);
    const { plan } = resolveDefinition(registry, statExists(beside) ? beside : spec.definition);
    const script = parseTrialScript(text, file);
    const result = await runTrial(plan, { ...script, due: spec.due, ...(spec.enrolment ? { enrolment: spec.enrolment } : {}) }, spec.until ? { until: spec.until } : {});
    const failures = [...unmetExpectations(result.rows, spec.expect, spec.absent), ...result.refused.map((r) => `an event was refused: ${r.event}: ${r.reason}`)];
    outcomes.push({ file, failures });
    print(`${failures.length ? 'FAIL' : 'ok'} ${file} (${plan.canonical}, ${result.rows.length} timeline rows)`);
    for (const f of failures) print(`  ${f}`);
  }
  return outcomes;
}

function statExists(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
