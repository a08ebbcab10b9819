/**
 * A handoff's effects on the FHIR side: the legal basis for sharing (a
 * Consent) and the ServiceRequest + Task that ask the receiving service to
 * act, in one transaction, once (for a referral another system wrote, the
 * Task for its ServiceRequest); the Task on hold and the Consent inactive
 * when the family withdraws the basis; reminders to the receiver before the
 * deadline, and escalations after it to the family's coordinator and then to
 * the receiving service's leadership, each a Communication, so every
 * escalation is visible in FHIR as well as in the workflow's state. Safe to
 * retry: ids derive from the family and the handoff, and nothing sent once
 * is sent again.
 */
import type { Consent, Resource, Task } from '@medplum/fhirtypes';
import type { FhirRepository } from '../fhir/repository';
import { readIfPresent, serviceParty } from './fhir-helpers';
import { buildCoordinatorNotice, buildHandoffRequest, buildReferralTask, handoffConsentId, handoffTaskId } from '../fhir/builders/pathway';
import type { Plan } from '../pathways/plan';
import type { FamilyRefs, ReferralIn } from '../workflows/pathway-events';
import type { HandoffEffect } from '../workflows/handoff-state';

export interface ApplyHandoffEffectsInput {
  familyId: string;
  canonical: string;
  refs: FamilyRefs;
  key: string;
  handoff: string;
  effects: HandoffEffect[];
  /** Set for a referral another system wrote: only the Task (and the Consent) are Forløp's to write. */
  referral?: ReferralIn;
}

const FINISHED_TASK = ['rejected', 'completed', 'cancelled', 'failed', 'entered-in-error', 'on-hold'];

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
        // The legal basis is recorded first: the Consent is the transaction's first entry, so no request exists without it.
        const common = { familyId, key: input.key, on: effect.on, title: def.title, legalBasis: def.legalBasis, subject: refs.patient };
        const referral = input.referral;
        const written = referral
          ? buildReferralTask({ ...common, serviceRequest: referral.serviceRequest, requester: referral.requester ? { reference: referral.requester } : party(def.from), owner: { reference: referral.performer } })
          : buildHandoffRequest({ ...common, reason: def.reason, requester: party(def.from), owner: party(def.to) });
        if (!(await exists('Task', written.task.id!))) entries.push(...Object.values(written));
      } else if (effect.type === 'hold-request') {
        const task = (await exists('Task', handoffTaskId(familyId, input.key))) as Task | undefined;
        if (task && !FINISHED_TASK.includes(task.status)) entries.push({ ...task, status: 'on-hold', statusReason: { text: effect.reason }, businessStatus: { text: 'held' }, lastModified: effect.on } as Task);
        const consent = (await exists('Consent', handoffConsentId(familyId, input.key))) as Consent | undefined;
        if (consent && consent.status === 'active') entries.push({ ...consent, status: 'inactive', provision: { ...consent.provision, period: { ...consent.provision?.period, end: effect.on } } } as Consent);
      } else if (effect.type === 'milestone-overdue') {
        const title = def.milestones.find((m) => m.id === effect.milestone)?.title ?? effect.milestone;
        const text = `"${def.title}": ${title} was due by ${effect.due} and is not recorded (${def.source.title}).`;
        const notice = buildCoordinatorNotice({ familyId, key: effect.key, on: effect.on, text, subject: refs.patient, sender: refs.organization, recipient: refs.coordinator, priority: 'urgent' });
        if (!(await exists('Communication', notice.id!))) entries.push(notice);
      } else if (effect.type === 'escalate-unopened') {
        const receiver = refs.services?.[def.to];
        const recipient = effect.to === 'service-leader' ? receiver : refs.coordinator;
        const after = def.unopened?.workingDays !== undefined ? `${def.unopened.workingDays} working days` : `${def.unopened?.days ?? 0} days`;
        const text = `Not yet opened: "${def.title}" was sent to ${plan.services[def.to]?.title ?? def.to} on ${effect.sentOn} and is still unopened after ${after}${effect.deadline ? `; the decision is due by ${effect.deadline} (${def.source.title})` : ''}.`;
        const notice = buildCoordinatorNotice({ familyId, key: effect.key, on: effect.on, text, subject: refs.patient, sender: refs.organization, recipient, priority: 'urgent' });
        if (!(await exists('Communication', notice.id!))) entries.push(notice);
      } else if (effect.type === 'rejected') {
        // The coordinator and whoever referred (the referral's requester, or the sending service) hear of it at once.
        const referrer = input.referral?.requester ?? party(def.from)?.reference;
        const text = `Rejected: ${plan.services[def.to]?.title ?? def.to} rejected "${def.title}" on ${effect.on}. The family's plan needs another way forward.`;
        for (const [suffix, recipient] of [['coordinator', refs.coordinator], ['referrer', referrer]] as const) {
          if (!recipient) continue;
          const notice = buildCoordinatorNotice({ familyId, key: `${effect.key}-${suffix}`, on: effect.on, text, subject: refs.patient, sender: refs.organization, recipient, priority: 'urgent' });
          if (!(await exists('Communication', notice.id!))) entries.push(notice);
        }
      } else if (effect.type === 'reminder' || effect.type === 'escalate') {
        const receiver = refs.services?.[def.to];
        // An urgent handoff's deadline is an instant: shown in Oslo time.
        const by = effect.deadline.includes('T') ? new Date(effect.deadline).toLocaleString('nb-NO', { timeZone: 'Europe/Oslo', dateStyle: 'short', timeStyle: 'short' }) : effect.deadline;
        const recipient = effect.type === 'reminder' || effect.to === 'service-leader' ? receiver : refs.coordinator;
        const text =
          effect.type === 'reminder'
            ? `Reminder: "${def.title}" must be decided by ${by}.`
            : effect.to === 'coordinator'
              ? `Escalated to the coordinator: "${def.title}" was due for a decision by ${by} and has none.`
              : `Escalated to the leader of ${plan.services[def.to]?.title ?? def.to}: "${def.title}" was due for a decision by ${by} and has none.`;
        const notice = buildCoordinatorNotice({ familyId, key: effect.key, on: effect.on, text, subject: refs.patient, sender: refs.organization, recipient, priority: effect.type === 'escalate' ? 'urgent' : 'routine' });
        if (!(await exists('Communication', notice.id!))) entries.push(notice);
      }
    }
    if (entries.length === 0) return;
    await fhir.transaction({ resourceType: 'Bundle', type: 'transaction', entry: entries.map((resource) => ({ resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } })) });
  }

  return { applyHandoffEffects };
}
