import path from 'node:path';
import type { PlanDefinition } from '@medplum/fhirtypes';
import { FhirStore, openPglite } from '../fhir/store';
import { exportPlanDefinition } from './export-plan-definition';
import { flatten } from './flatten';
import { PublishedDefinitions } from './published-definitions';
import { DefinitionRegistry, loadDefinition } from './registry';

const VARIANT = path.join(__dirname, '..', 'test', 'pathway', 'local-definitions', 'helsestasjon-1.0.0.yaml');
const CANONICAL = 'https://example.kommune.no/pathways/helsestasjon|1.0.0';

let store: FhirStore;
beforeEach(async () => {
  store = await FhirStore.open(await openPglite());
});
afterEach(() => store.close());

const planDefinition = () => {
  const { plan, merged } = loadDefinition(VARIANT, DefinitionRegistry.builtIn());
  return exportPlanDefinition(plan, flatten(merged)).entry![0].resource as PlanDefinition;
};

it('takes an active PlanDefinition from the store; a lookup before that fails for its caller to retry', async () => {
  const published = new PublishedDefinitions(store, DefinitionRegistry.builtIn());
  const plans = published.plans();
  expect(() => plans.plan(CANONICAL)).toThrow(/If it was just published, it is read within seconds and the family waits until then/);
  await store.update(planDefinition());
  expect(await published.refresh()).toEqual([CANONICAL]);
  expect(plans.plan(CANONICAL).steps.map((s) => s.id)).toContain('hs-9m');
  // Read once: a second pass adds nothing.
  expect(await published.refresh()).toEqual([]);
});

it('takes it at once when this process stores it (no restart, no poll)', async () => {
  const published = new PublishedDefinitions(store, DefinitionRegistry.builtIn());
  await published.start(60_000);
  try {
    await store.update(planDefinition());
    for (let i = 0; i < 50 && !published.registry.sourceOf(CANONICAL); i++) await new Promise((r) => setTimeout(r, 20));
    expect(published.registry.sourceOf(CANONICAL)).toBeDefined();
  } finally {
    await published.stop();
  }
});

it('names, and does not take, a stored PlanDefinition whose definition fails the checks or that is not active', async () => {
  const logged: { msg: string; fields?: object }[] = [];
  const published = new PublishedDefinitions(store, DefinitionRegistry.builtIn(), (msg, fields) => logged.push({ msg, fields }));
  const bad = planDefinition();
  bad.extension = [{ url: bad.extension![0].url, valueAttachment: { contentType: 'application/json', data: Buffer.from('{"url":"x"}').toString('base64') } }];
  await store.update(bad);
  await store.update({ ...planDefinition(), id: 'draft-one', version: '2.0.0', status: 'draft' });
  expect(await published.refresh()).toEqual([]);
  expect(logged).toEqual([{ msg: 'published PlanDefinition not taken', fields: { resource: `PlanDefinition/${bad.id}`, problems: expect.arrayContaining([expect.stringContaining('/exits: no exit has a time point')]) } }]);
});
