/**
 * Publishing a definition over FHIR on the whole stack (dev IdP tokens, the
 * FHIR API, the store, the event router, the worker on the embedded server):
 * the operator's client publishes the nine-month variant as `forlop pathway
 * export` writes it; a municipal system's wildcard scope may not; a
 * PlanDefinition the checks refuse gets 422 with the fault's place; once
 * active, a family enrolled through the API on it runs on it, without a
 * restart, and one enrolled before it was published waits for it.
 */
import path from 'node:path';
import type { ActivityDefinition, Bundle, CarePlan, OperationOutcome, PlanDefinition } from '@medplum/fhirtypes';
import { startInProcessStack, type InProcessStack } from '../../app/in-process-stack';
import { carePlanId } from '../../fhir/builders/pathway';
import { exportPlanDefinition } from '../../pathways/export-plan-definition';
import { flatten } from '../../pathways/flatten';
import { DEFINITION_EXTENSION, definitionAttachmentData, importPlanDefinition } from '../../pathways/import-plan-definition';
import { DefinitionRegistry, loadDefinition } from '../../pathways/registry';
import { pathwayStateQuery } from '../../workflows/messages';
import './harness';

jest.setTimeout(300_000);

const VARIANT = path.join(__dirname, 'local-definitions', 'helsestasjon-1.0.0.yaml');
const OPERATOR_SCOPE = 'system/PlanDefinition.cruds system/ActivityDefinition.cruds';

let stack: InProcessStack;
let bundle: Bundle;
beforeAll(async () => {
  stack = await startInProcessStack('2026-10-23', 'publish-test');
  const { plan, merged } = loadDefinition(VARIANT, DefinitionRegistry.builtIn());
  bundle = exportPlanDefinition(plan, flatten(merged));
});
afterAll(() => stack?.close());

const planDefinition = () => structuredClone(bundle.entry![0].resource as PlanDefinition);

it('refuses a municipal system with a wildcard scope: definitions are the operator’s', async () => {
  const token = await stack.token('helsestasjon');
  const res = await stack.call<OperationOutcome>(token, 'PUT', `/fhir/PlanDefinition/${planDefinition().id}`, planDefinition());
  expect(res.status).toBe(403);
  expect(res.body.issue[0].diagnostics ?? res.body.issue[0].details?.text).toMatch(/needs a scope naming PlanDefinition/);
});

it('refuses a PlanDefinition whose definition fails the checks, with 422 and the place of each fault', async () => {
  const token = await stack.token('operator', OPERATOR_SCOPE);
  const bad = planDefinition();
  const doc = importPlanDefinition(bad) as { contacts: { id: string; window: { earliest: string; latest: string } }[] };
  const i = doc.contacts.findIndex((c) => c.id === 'hs-9m');
  doc.contacts[i].window = { earliest: '41w', latest: '43w' };
  bad.extension = [{ url: DEFINITION_EXTENSION, valueAttachment: { contentType: 'application/json', data: definitionAttachmentData(doc as never) } }];
  const res = await stack.call<OperationOutcome>(token, 'POST', '/fhir/PlanDefinition', bad);
  expect(res.status).toBe(422);
  expect(res.body.issue).toEqual([
    expect.objectContaining({
      severity: 'error',
      code: 'invalid',
      expression: [`PlanDefinition.extension[0].valueAttachment.data#/contacts/${i}/window`],
    }),
  ]);
  expect(JSON.stringify(res.body.issue[0])).toContain('the target 9mo lies outside its window 41w to 43w');
  const stored = await stack.store.search('PlanDefinition', { _count: '10' });
  expect(stored.resources).toEqual([]);
});

it('refuses an enrolment on a definition not published yet with 422 naming the code (issue #21: no silent background failure)', async () => {
  await expect(stack.enrol(await stack.token('helsestasjon'), '2027-05-01', { pathway: 'https://example.kommune.no/pathways/helsestasjon|1.0.0' })).rejects.toThrow(/EpisodeOfCare was refused \(HTTP 422\)/);
});

it('publishes the variant and its ActivityDefinitions, and a family enrolled through the API runs on it', async () => {
  const token = await stack.token('operator', OPERATOR_SCOPE);
  const pd = planDefinition();
  expect((await stack.call(token, 'PUT', `/fhir/PlanDefinition/${pd.id}`, pd)).status).toBe(201);
  for (const entry of bundle.entry!.slice(1)) {
    const ad = entry.resource as ActivityDefinition;
    expect([ad.id, (await stack.call(token, 'PUT', `/fhir/ActivityDefinition/${ad.id}`, ad)).status]).toEqual([ad.id, 201]);
  }
  // The same content again (a retried PUT) is accepted; other content under the same url|version is not.
  expect((await stack.call(token, 'PUT', `/fhir/PlanDefinition/${pd.id}`, pd)).status).toBe(200);
  const changed = planDefinition();
  const doc = importPlanDefinition(changed) as { title: string; contacts: { id: string; title: string }[] };
  doc.contacts.find((c) => c.id === 'hs-9m')!.title = 'Helsestasjon ni måneder';
  changed.id = 'another-id';
  changed.extension = [{ url: DEFINITION_EXTENSION, valueAttachment: { contentType: 'application/json', data: definitionAttachmentData(doc as never) } }];
  const conflict = await stack.call<OperationOutcome>(token, 'PUT', '/fhir/PlanDefinition/another-id', changed);
  expect(conflict.status).toBe(422);
  expect(JSON.stringify(conflict.body)).toContain('https://example.kommune.no/pathways/helsestasjon|1.0.0 is already published with other content');

  const { familyId } = await stack.enrol(await stack.token('helsestasjon'), '2027-05-01', { pathway: 'https://example.kommune.no/pathways/helsestasjon|1.0.0' });
  await stack.route();
  const handle = stack.env.client.workflow.getHandle(`family-${familyId}`);
  await handle.query('pathway');
  let carePlan: CarePlan | undefined;
  for (let i = 0; i < 100 && !carePlan; i++) {
    carePlan = await stack.store.read<CarePlan>('CarePlan', carePlanId(familyId)).catch(() => undefined);
    if (!carePlan) await new Promise((r) => setTimeout(r, 100));
  }
  expect(carePlan?.instantiatesCanonical).toEqual(['https://example.kommune.no/pathways/helsestasjon|1.0.0']);
  expect((await handle.query(pathwayStateQuery)).canonical).toBe('https://example.kommune.no/pathways/helsestasjon|1.0.0');
});
