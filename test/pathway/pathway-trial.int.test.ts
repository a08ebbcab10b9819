/**
 * The try/test runner on real components (embedded Temporal with time
 * skipping, the real worker, PGlite): the pathway tests in ./trials for the
 * four built-ins and the nine-month variant hold, a wrong expectation is
 * reported, and `forlop pathway try --json` prints the timeline.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runPathwayTests } from '../../app/pathway-tests';
import { DefinitionRegistry } from '../../pathways/registry';
import type { TimelineRow } from '../../pathways/trial';
import './harness';

jest.setTimeout(600_000);
const registry = DefinitionRegistry.builtIn();

it('runs the pathway tests of the built-ins and the nine-month variant, every expected row found', async () => {
  const lines: string[] = [];
  const outcomes = await runPathwayTests([path.join(__dirname, 'trials')], registry, (line) => lines.push(line));
  expect(outcomes.map((o) => [path.basename(o.file), o.failures])).toEqual([
    ['basis.test.yaml', []],
    ['familieambulatorium.test.yaml', []],
    ['foreldre-baby.test.yaml', []],
    ['nine-month-variant.test.yaml', []],
    ['sarpsborg.test.yaml', []],
  ]);
  expect(lines[0]).toMatch(/^ok .*basis\.test\.yaml \(https:\/\/forlop\.no\/fhir\/PlanDefinition\/basis\|1\.1\.0, \d+ timeline rows\)$/);
});

it('reports an expected row the run did not show, and one it must not show', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'forlop-trial-')), 'wrong.test.yaml');
  writeFileSync(file, 'definition: Basisprogram\ndue: 2027-05-01\nenrolment: 2026-10-23\nuntil: 2026-11-01\nexpect:\n  - { kind: handoff }\nabsent:\n  - { kind: enrolled }\n');
  const [outcome] = await runPathwayTests([file], registry);
  expect(outcome.failures).toEqual([
    'expected a row {"kind":"handoff"}; none matched',
    expect.stringMatching(/^expected no row \{"kind":"enrolled"\}; found \{"on":"2026-10-23","kind":"enrolled","what":"Enrolled in .*\(1\.1\.0\)"\}$/),
  ]);
});

it('forlop pathway try --json prints the timeline of the nine-month variant', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'forlop-try-'));
  const events = path.join(dir, 'events.yaml');
  writeFileSync(events, '- { on: 2027-04-28, birth: true }\n');
  const variant = path.join(__dirname, 'local-definitions', 'helsestasjon-1.0.0.yaml');
  const run = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'bin', 'forlop.js'), 'pathway', 'try', variant, '--due', '2027-05-01', '--enrolment', '2026-10-23', '--until', '2028-02-01', '--events', events, '--json'], { encoding: 'utf8' });
  expect(run.stderr).not.toMatch(/Error/);
  expect(run.status).toBe(0);
  const out = JSON.parse(run.stdout) as { canonical: string; timeline: TimelineRow[] };
  expect(out.canonical).toBe('https://example.kommune.no/pathways/helsestasjon|1.0.0');
  expect(out.timeline.find((r) => r.id === 'hs-9m')).toMatchObject({ on: '2028-01-28', kind: 'contact', window: '2028-01-12..2028-02-09', status: 'planned' });
  expect(out.timeline.some((r) => r.id === 'hs-8m')).toBe(false);
});
