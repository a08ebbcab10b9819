import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadDefinitionsDirectory } from './definitions-directory';
import { DefinitionError, formatProblem } from './problems';

const EXAMPLES = path.join(__dirname, '..', 'test', 'pathway', 'local-definitions');
const HELSESTASJON = 'https://example.kommune.no/pathways/helsestasjon';

const tempDir = () => mkdtempSync(path.join(tmpdir(), 'forlop-pathways-'));

it('adds every version in the directory beside the built-in definitions', () => {
  const { registry, added } = loadDefinitionsDirectory(EXAMPLES);
  expect(added).toEqual([`${HELSESTASJON}|1.0.0`, `${HELSESTASJON}|1.0.1`]);
  // A family pinned to 1.0.0 keeps it after 1.0.1 is there; the name alone means the newest.
  expect(registry.plan(`${HELSESTASJON}|1.0.0`).steps.map((s) => s.id)).toContain('hs-4m');
  expect(registry.plan(`${HELSESTASJON}|1.0.1`).steps.map((s) => s.id)).not.toContain('hs-4m');
  expect(registry.plan('LocalHelsestasjon').version).toBe('1.0.1');
  expect(registry.plan('Basisprogram').canonical).toBe('https://forlop.no/fhir/PlanDefinition/basis|1.1.0');
});

it('refuses the whole directory when one file has a problem, naming file:line:column as validate does', () => {
  const dir = tempDir();
  copyFileSync(path.join(EXAMPLES, 'helsestasjon-1.0.0.yaml'), path.join(dir, 'a-good.yaml'));
  writeFileSync(path.join(dir, 'b-bad.yaml'), 'url: https://example.org/p\nversion: 1.0.0\nname: Local\ntitle: Local\nstatus: draft\nextends: https://forlop.no/fhir/PlanDefinition/basis|1.0.0\nremove: [hs-8mo]\n');
  let thrown: unknown;
  try {
    loadDefinitionsDirectory(dir);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(DefinitionError);
  expect((thrown as DefinitionError).problems.map(formatProblem)).toEqual([
    `${path.join(dir, 'b-bad.yaml')}:7:10 /remove/0: 'hs-8mo' is not an entry of https://forlop.no/fhir/PlanDefinition/basis|1.0.0 (remove names the id of a step, rule, handoff, check, exit, phase, service, instrument or source of the base)`,
  ]);
});

it('refuses a second definition of a url|version (a published version never changes)', () => {
  const dir = tempDir();
  copyFileSync(path.join(EXAMPLES, 'helsestasjon-1.0.0.yaml'), path.join(dir, 'a.yaml'));
  copyFileSync(path.join(EXAMPLES, 'helsestasjon-1.0.0.yaml'), path.join(dir, 'b.yaml'));
  expect(() => loadDefinitionsDirectory(dir)).toThrow(`${path.join(dir, 'b.yaml')}:4:1 /version: ${HELSESTASJON}|1.0.0 is already defined by ${path.join(dir, 'a.yaml')} (publish a change as a new version)`);
});

it('says when the directory cannot be read', () => {
  expect(() => loadDefinitionsDirectory(path.join(tempDir(), 'missing'))).toThrow(/cannot read the definitions directory/);
});
