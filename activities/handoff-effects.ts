/**
 * A handoff's effects on the FHIR side: the ServiceRequest + Task that ask
 * the receiving service to act (once), reminders to the receiver before the
 * deadline, and escalations after it to the family's coordinator and then to
 * the receiving service's leadership, each a Communication, so every
 * escalation is visible in FHIR as well as in the workflow's state. Safe to
 * retry: ids derive from the family and the handoff, and nothing sent once
 * is sent again.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { FhirRepository } from '../fhir/repository';
import { readIfPresent, serviceParty } from './fhir-helpers';
import { buildCoordinatorNotice, buildHandoffRequest } from '../fhir/builders/pathway';
import type { Plan } from '../pathways/plan';
import type { FamilyRefs } from '../workflows/pathway-events';
import type { HandoffEffect } from '../workflows/handoff-state';

export interface ApplyHandoffEffectsInput {
  familyId: string;
  canonical: string;
  refs: FamilyRefs;
  key: string;
  handoff: string;
  effects: HandoffEffect[];
}

export function createHandoffActivities({ fhir, planOf }: { fhir: FhirRepository; planOf: (canonical: string) => Plan }) {
  const exists = (resourceType: Resource['resourceType'], id: string) => readIfPresent(fhir, resourceType, id);

  async function applyHandoffEffects(input: ApplyHandoffEffectsInput): Promise<void> {
    const plan = planOf(input.canonical);
    const def = plan.handoffs[input.handoff];
    const { refs, familyId } = input;
    const party = (service: string) => serviceParty(plan, refs, service);
    const entries: Resource[] = [];
    for (const effect of input.effects) {
      if (effect.type === 'create-request') {
        const { serviceRequest, task } = buildHandoffRequest({ familyId, key: input.key, on: effect.on, title: def.title, reason: def.reason, legalBasis: def.legalBasis, subject: refs.patient, requester: party(def.from), owner: party(def.to) });
        if (!(await exists('Task', task.id!))) entries.push(serviceRequest, task);
      } else if (effect.type === 'milestone-overdue') {
        const title = def.milestones.find((m) => m.id === effect.milestone)?.title ?? effect.milestone;
        const text = `"${def.title}": ${title} was due by ${effect.due} and is not recorded (${def.source.title}).`;
        const notice = buildCoordinatorNotice({ familyId, key: effect.key, on: effect.on, text, subject: refs.patient, sender: refs.organization, recipient: refs.coordinator, priority: 'urgent' });
        if (!(await exists('Communication', notice.id!))) entries.push(notice);
      } else if (effect.type === 'reminder' || effect.type === 'escalate') {
        const receiver = refs.services?.[def.to];
        const recipient = effect.type === 'reminder' || effect.to === 'service-leader' ? receiver : refs.coordinator;
        const text =
          effect.type === 'reminder'
            ? `Reminder: "${def.title}" must be decided by ${effect.deadline}.`
            : effect.to === 'coordinator'
              ? `Escalated to the coordinator: "${def.title}" was due for a decision by ${effect.deadline} and has none.`
              : `Escalated to the leader of ${plan.services[def.to]?.title ?? def.to}: "${def.title}" was due for a decision by ${effect.deadline} and has none.`;
        const notice = buildCoordinatorNotice({ familyId, key: effect.key, on: effect.on, text, subject: refs.patient, sender: refs.organization, recipient, priority: effect.type === 'escalate' ? 'urgent' : 'routine' });
        if (!(await exists('Communication', notice.id!))) entries.push(notice);
      }
    }
    if (entries.length === 0) return;
    await fhir.transaction({ resourceType: 'Bundle', type: 'transaction', entry: entries.map((resource) => ({ resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } })) });
  }

  return { applyHandoffEffects };
}
