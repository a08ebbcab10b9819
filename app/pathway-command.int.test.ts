/** `forlop pathway` as an author runs it: the real CLI in a child process. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

jest.setTimeout(60_000);
const forlop = (...args: string[]) => spawnSync(process.execPath, [path.join(__dirname, '..', 'bin', 'forlop.js'), 'pathway', ...args], { encoding: 'utf8' });

it('validates the built-in definitions', () => {
  const run = forlop('validate', ...['basis', 'sarpsborg', 'familieambulatorium', 'foreldre-baby'].map((n) => path.join(__dirname, '..', 'pathways', 'definitions', `${n}.yaml`)));
  expect(run.status).toBe(0);
  expect(run.stdout).toMatch(/^ok .*basis\.yaml: https:\/\/forlop\.no\/fhir\/PlanDefinition\/basis\|1\.0\.0 \(27 contacts, 4 screenings, 1 interventions, 7 rules, 2 handoffs\)$/m);
});

it('names the file, line and fix of each problem and exits 1', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'forlop-pathway-'));
  const file = path.join(dir, 'local.yaml');
  writeFileSync(file, 'url: https://example.org/p\nversion: 1.0.0\nname: Local\ntitle: Local\nstatus: draft\nextends: https://forlop.no/fhir/PlanDefinition/basis|1.0.0\nremove: [hs-8mo]\n');
  const run = forlop('validate', file);
  expect(run.status).toBe(1);
  expect(run.stderr.trim()).toBe(`${file}:7:10 /remove/0: 'hs-8mo' is not an entry of https://forlop.no/fhir/PlanDefinition/basis|1.0.0 (remove names the id of a step, rule, handoff, check, exit, phase, service, instrument or source of the base)`);
});

it('exports a PlanDefinition bundle and prints the schema', () => {
  const bundle = JSON.parse(execFileSync(process.execPath, [path.join(__dirname, '..', 'bin', 'forlop.js'), 'pathway', 'export', 'Sarpsborgmodellen'], { encoding: 'utf8' }));
  expect(bundle.entry[0].resource).toMatchObject({ resourceType: 'PlanDefinition', url: 'https://forlop.no/fhir/PlanDefinition/sarpsborg', version: '1.1.0' });
  const schema = JSON.parse(forlop('schema').stdout);
  expect(schema.$id).toBe('https://forlop.no/schema/pathway-definition.json');
});
