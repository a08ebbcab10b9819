/** `forlop pathway export` then `import` as an author runs them: the real CLI in child processes. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

jest.setTimeout(120_000);
const forlop = (...args: string[]) => spawnSync(process.execPath, [path.join(__dirname, '..', 'bin', 'forlop.js'), 'pathway', ...args], { encoding: 'utf8', env: { ...process.env, FORLOP_PATHWAYS_DIR: '' } });

it('imports what it exported: the YAML validates and exports to the same Bundle', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'forlop-import-'));
  const variant = path.join(__dirname, '..', 'test', 'pathway', 'local-definitions', 'helsestasjon-1.0.0.yaml');
  const exported = forlop('export', variant);
  expect(exported.status).toBe(0);
  const json = path.join(dir, 'helsestasjon.json');
  writeFileSync(json, exported.stdout);
  const imported = forlop('import', json);
  expect(imported.status).toBe(0);
  expect(imported.stdout).toMatch(/^# Imported by forlop pathway import from .*helsestasjon\.json \(https:\/\/example\.kommune\.no\/pathways\/helsestasjon\|1\.0\.0\)\.\n/);
  const yaml = path.join(dir, 'back.yaml');
  writeFileSync(yaml, imported.stdout);
  expect(forlop('validate', yaml).stdout).toMatch(/^ok .*back\.yaml: https:\/\/example\.kommune\.no\/pathways\/helsestasjon\|1\.0\.0 /);
  expect(JSON.parse(forlop('export', yaml).stdout)).toEqual(JSON.parse(exported.stdout));
});

it('refuses a PlanDefinition that carries no definition, naming the place, exit 1', () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'forlop-import-')), 'pd.json');
  writeFileSync(file, JSON.stringify({ resourceType: 'PlanDefinition', status: 'active', url: 'https://example.org/pd' }));
  const run = forlop('import', file);
  expect(run.status).toBe(1);
  expect(run.stderr.trim()).toBe('PlanDefinition.extension: the PlanDefinition carries no Forløp definition (extension https://forlop.no/fhir/StructureDefinition/pathway-definition with valueAttachment.data); write it with forlop pathway export');
});
