import type { ActivityDefinition, PlanDefinition } from '@medplum/fhirtypes';
import { validationIssues } from '../fhir/validate';
import { exportPlanDefinition } from './export-plan-definition';
import { flatten } from './flatten';
import { DefinitionRegistry } from './registry';

const registry = DefinitionRegistry.builtIn();

describe('exportPlanDefinition', () => {
  it.each(['Basisprogram', 'Sarpsborgmodellen', 'Familieambulatorium', 'ForeldreBabySamspill'])('%s exports to resources the FHIR validators accept', (name) => {
    const canonical = registry.canonicals().find((c) => registry.plan(c).name === name)!;
    const { plan, merged } = registry.resolve(registry.sourceOf(canonical)!);
    // With the definition it carries for import (an extension), as `forlop pathway export` writes it.
    const bundle = exportPlanDefinition(plan, flatten(merged));
    expect(validationIssues(bundle)).toEqual([]);
    for (const entry of bundle.entry ?? []) expect([entry.resource?.resourceType, validationIssues(entry.resource)]).toEqual([entry.resource?.resourceType, []]);
  });

  it('carries the windows, anchors, sources and activity definitions of the steps', () => {
    const plan = registry.plan('https://forlop.no/fhir/PlanDefinition/basis|1.0.0');
    const bundle = exportPlanDefinition(plan);
    const pd = bundle.entry![0].resource as PlanDefinition;
    expect(pd).toMatchObject({ url: 'https://forlop.no/fhir/PlanDefinition/basis', version: '1.0.0', name: 'Basisprogram' });
    const infant = pd.action!.find((a) => a.id === 'phase-postnatal')!;
    const hs6w = infant.action!.find((a) => a.id === 'hs-6w')!;
    expect(hs6w).toMatchObject({
      trigger: [{ type: 'named-event', name: 'birth' }],
      timingRange: { low: { value: 5, code: 'wk' }, high: { value: 8, code: 'wk' } },
      definitionCanonical: 'https://forlop.no/fhir/PlanDefinition/basis/ActivityDefinition/hs-6w|1.0.0',
      documentation: [{ type: 'justification', url: 'https://www.helsedirektoratet.no/retningslinjer/helsestasjons-og-skolehelsetjenesten' }],
    });
    const rule = pd.action!.find((a) => a.id === 'rule-epds-possible')!;
    expect(rule.trigger).toEqual([{ type: 'named-event', name: 'screening-recorded' }]);
    expect(rule.condition![0].expression).toEqual({ language: 'text/fhirpath', expression: "%event.instrument = 'epds' and %event.band in ('possible')" });
    const selfHarm = pd.action!.find((a) => a.id === 'rule-epds-self-harm')!;
    expect(selfHarm.condition![0].expression!.expression).toBe("%event.instrument = 'epds' and %event.item.where(linkId = '10').value >= 1");
    expect(rule.relatedAction).toEqual([
      { actionId: 'epds-clinical-interview', relationship: 'before-start' },
      { actionId: 'supportive-conversations', relationship: 'before-start' },
    ]);
    const activityDefinitions = bundle.entry!.slice(1).map((e) => e.resource as ActivityDefinition);
    expect(activityDefinitions).toHaveLength(plan.steps.length);
    expect(activityDefinitions.find((a) => a.url?.endsWith('/supportive-conversations'))).toMatchObject({ kind: 'ServiceRequest', timingTiming: { repeat: { period: 1, periodUnit: 'wk', count: 4 } } });
  });
});
