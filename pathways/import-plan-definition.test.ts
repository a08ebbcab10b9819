import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PlanDefinition } from '@medplum/fhirtypes';
import { exportPlanDefinition } from './export-plan-definition';
import { flatten } from './flatten';
import { DEFINITION_EXTENSION, importPlanDefinition, PlanDefinitionImportError, toYaml } from './import-plan-definition';
import { DefinitionRegistry, loadDefinition } from './registry';

const registry = DefinitionRegistry.builtIn();
const exported = (resolved: ReturnType<DefinitionRegistry['resolve']>) => exportPlanDefinition(resolved.plan, flatten(resolved.merged));

describe('export -> import -> export', () => {
  it.each(['Basisprogram', 'Sarpsborgmodellen', 'Familieambulatorium', 'ForeldreBabySamspill'])('is a fixed point for %s', (name) => {
    const canonical = registry.canonicals().find((c) => registry.plan(c).name === name)!;
    const first = exported(registry.resolve(registry.sourceOf(canonical)!));
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'forlop-import-')), `${name}.yaml`);
    writeFileSync(file, toYaml(importPlanDefinition(first), `Imported from ${canonical}`));
    const second = exported(loadDefinition(file, registry));
    expect(second).toEqual(first);
  });

  it('writes a variant out whole: the import needs no base', () => {
    const local = path.join(__dirname, '..', 'test', 'pathway', 'local-definitions', 'helsestasjon-1.0.0.yaml');
    const doc = importPlanDefinition(exported(loadDefinition(local, registry)));
    expect(doc).not.toHaveProperty('extends');
    expect((doc.contacts ?? []).map((c) => c.id)).toEqual(expect.arrayContaining(['hs-9m', 'hs-6w']));
    expect((doc.contacts ?? []).map((c) => c.id)).not.toContain('hs-8m');
  });

  it("lets the PlanDefinition's own status win", () => {
    const bundle = exported(registry.resolve(registry.sourceOf(registry.canonicals()[0])!));
    const pd = { ...(bundle.entry![0].resource as PlanDefinition), status: 'retired' as const };
    expect(importPlanDefinition(pd).status).toBe('retired');
  });

  it('refuses a PlanDefinition without the definition, naming the path', () => {
    const pd: PlanDefinition = { resourceType: 'PlanDefinition', status: 'active', url: 'https://example.org/x' };
    expect(() => importPlanDefinition(pd)).toThrow(PlanDefinitionImportError);
    expect(() => importPlanDefinition(pd)).toThrow(DEFINITION_EXTENSION);
  });
});
