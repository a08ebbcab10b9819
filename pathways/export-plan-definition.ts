/**
 * A compiled pathway as FHIR's own computable form (CPG-on-FHIR style): a
 * PlanDefinition whose actions are grouped by phase, each triggered by the
 * anchor it is counted from (a named event: birth, dueDate...), timed by its
 * window, citing its source, and pointing at an ActivityDefinition for what
 * is done; rules become actions triggered by their event with their
 * condition. Returned as a collection Bundle.
 * (https://hl7.org/fhir/R4/plandefinition.html, activitydefinition.html)
 */
import type { ActivityDefinition, Bundle, PlanDefinition, PlanDefinitionAction, Quantity, RelatedArtifact } from '@medplum/fhirtypes';
import { DEFINITION_EXTENSION, definitionAttachmentData } from './import-plan-definition';
import type { Condition, Offset, Plan, PlanStep, SourceRef } from './plan';
import type { PathwayDocument } from './schema';

const UCUM = 'http://unitsofmeasure.org';
const UNIT = { h: 'h', d: 'd', w: 'wk', mo: 'mo', y: 'a' } as const;

const quantity = (offset: Offset): Quantity => ({ value: offset.n, unit: UNIT[offset.unit], system: UCUM, code: UNIT[offset.unit] });

const justification = (source: SourceRef): RelatedArtifact => ({ type: 'justification', display: source.title, ...(source.url ? { url: source.url } : {}) });

/** A FHIR id (at most 64 of [A-Za-z0-9-.]) naming the version: `basisprogram-1.0.0`. */
export function resourceId(name: string, version: string): string {
  const v = `-${version}`.replace(/[^A-Za-z0-9.-]/g, '-');
  return `${name.toLowerCase().replace(/[^a-z0-9.-]/g, '-').slice(0, 64 - v.length)}${v}`;
}

const list = (values: string[]) => `(${values.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(' | ')})`;

/**
 * A rule's condition as FHIRPath over the event that fired it (%event, with
 * instrument, band, step, status, items) and the family's current %phase.
 */
export function conditionFhirPath(when: Condition): string {
  const parts: string[] = [];
  if (when.instrument) parts.push(`%event.instrument = '${when.instrument}'`);
  if (when.band) parts.push(`%event.band in ${list(when.band)}`);
  if (when.item) parts.push(`%event.item.where(linkId = '${when.item.linkId}').value >= ${when.item.min}`);
  if (when.step) parts.push(`%event.step in ${list(when.step)}`);
  if (when.status) parts.push(`%event.status = '${when.status}'`);
  if (when.phase) parts.push(`%phase in ${list(when.phase)}`);
  if (when.basis) parts.push(`%event.basis = '${when.basis}'`);
  if (when.consent) parts.push(`%event.consent = '${when.consent}'`);
  return parts.join(' and ');
}

export function activityDefinitionUrl(plan: Plan, step: PlanStep): string {
  return `${plan.url}/ActivityDefinition/${step.id}`;
}

function activityDefinition(plan: Plan, step: PlanStep): ActivityDefinition {
  const service = plan.services[step.deliveredBy];
  return {
    resourceType: 'ActivityDefinition',
    id: resourceId(`${plan.name}-${step.id}`, plan.version),
    url: activityDefinitionUrl(plan, step),
    version: plan.version,
    title: step.title,
    status: 'active',
    kind: step.kind === 'intervention' ? 'ServiceRequest' : step.kind === 'screening' ? 'Task' : 'Appointment',
    code: { coding: [step.code], text: step.title },
    participant: [{ type: 'practitioner', role: { text: service?.title ?? step.deliveredBy } }],
    ...(step.kind === 'intervention'
      ? { timingTiming: { repeat: { frequency: 1, period: step.every.n, periodUnit: UNIT[step.every.unit], ...(step.count ? { count: step.count } : {}) } } }
      : {}),
    relatedArtifact: [justification(step.source)],
  };
}

function stepAction(plan: Plan, step: PlanStep): PlanDefinitionAction {
  const when = step.kind === 'intervention' ? step.start : step.at;
  const anchorText = `${when.offset.n}${when.offset.unit} from ${when.anchor}`;
  return {
    id: step.id,
    title: step.title,
    description: `${step.kind === 'intervention' ? 'Starts' : 'Target'} ${anchorText}${step.trigger === 'rule' ? ' (when a rule schedules it)' : ''}`,
    code: [{ coding: [step.code] }],
    trigger: [{ type: 'named-event', name: when.anchor }],
    ...(step.kind === 'intervention'
      ? { timingTiming: { repeat: { frequency: 1, period: step.every.n, periodUnit: UNIT[step.every.unit], ...(step.count ? { count: step.count } : {}) } } }
      : { timingRange: { low: quantity(step.window.earliest), high: quantity(step.window.latest) } }),
    participant: [{ type: 'practitioner', role: { text: plan.services[step.deliveredBy]?.title ?? step.deliveredBy } }],
    definitionCanonical: `${activityDefinitionUrl(plan, step)}|${plan.version}`,
    documentation: [justification(step.source)],
  };
}

/**
 * `document`: the definition written out whole (./flatten.ts), carried in an
 * extension so an import gets back exactly what runs (./import-plan-definition.ts).
 * The id names the version too: each version is its own resource, so
 * publishing 1.1.0 leaves 1.0.0 for the families pinned to it.
 */
export function exportPlanDefinition(plan: Plan, document?: PathwayDocument): Bundle {
  const byPhase = new Map<string | undefined, PlanStep[]>();
  for (const step of plan.steps) byPhase.set(step.phase, [...(byPhase.get(step.phase) ?? []), step]);
  const actions: PlanDefinitionAction[] = plan.phases.map((phase) => ({
    id: `phase-${phase.id}`,
    title: phase.title,
    trigger: [{ type: 'named-event', name: phase.start.anchor }],
    groupingBehavior: 'logical-group',
    action: (byPhase.get(phase.id) ?? []).map((s) => stepAction(plan, s)),
  }));
  const unphased = byPhase.get(undefined) ?? [];
  if (unphased.length) actions.push({ id: 'on-rule', title: 'Steps planned when a rule schedules them', groupingBehavior: 'logical-group', action: unphased.map((s) => stepAction(plan, s)) });
  for (const rule of plan.rules) {
    actions.push({
      id: `rule-${rule.id}`,
      title: rule.title ?? rule.id,
      trigger: [{ type: 'named-event', name: rule.on }],
      ...(rule.when ? { condition: [{ kind: 'applicability', expression: { language: 'text/fhirpath', expression: conditionFhirPath(rule.when) } }] } : {}),
      description: rule.do.map((a) => Object.entries(a).map(([k, v]) => `${k}: ${v}`)[0]).join('; '),
      relatedAction: rule.do.flatMap((a) => ('schedule' in a ? [{ actionId: a.schedule, relationship: 'before-start' as const }] : [])),
      documentation: [justification(rule.source)],
    });
  }
  const planDefinition: PlanDefinition = {
    resourceType: 'PlanDefinition',
    id: resourceId(plan.name, plan.version),
    ...(document ? { extension: [{ url: DEFINITION_EXTENSION, valueAttachment: { contentType: 'application/json', data: definitionAttachmentData(document) } }] } : {}),
    url: plan.url,
    version: plan.version,
    name: plan.name,
    title: plan.title,
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/plan-definition-type', code: 'clinical-protocol' }] },
    status: 'active',
    relatedArtifact: [...new Map(plan.steps.map((s) => [s.source.id, justification(s.source)])).values()],
    action: actions,
  };
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      { fullUrl: `${plan.url}`, resource: planDefinition },
      ...plan.steps.map((s) => ({ fullUrl: activityDefinitionUrl(plan, s), resource: activityDefinition(plan, s) })),
    ],
  };
}
