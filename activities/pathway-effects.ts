/**
 * The pathway's effects carried out on the FHIR side, in one atomic
 * transaction per call: the CarePlan brought up to date, planned Encounters
 * written or cancelled, the coordinator told (Communication), handoffs
 * requested (ServiceRequest + Task) and checks opened (Task).
 *
 * Safe to retry: every resource has an id derived from the family and the
 * step, things that are sent once (notices, handoffs, checks) are only
 * created when absent, and a planned Encounter a service has since moved on
 * (arrived, finished) is left alone.
 */
import type { Bundle, BundleEntry, Encounter, Organization, Reference, Resource } from '@medplum/fhirtypes';
import type { FhirRepository } from '../fhir/repository';
import { readIfPresent, serviceParty } from './fhir-helpers';
import { buildCarePlan, buildCheckTask, buildCoordinatorNotice, buildHandoffRequest, buildPlannedEncounter, stableId, type CarePlanActivityInput } from '../fhir/builders/pathway';
import type { Plan, PlanStep } from '../pathways/plan';
import type { FamilyRefs, PathwayEffect } from '../workflows/pathway-events';
import type { PathwayState } from '../workflows/pathway-state';
import { createHandoffActivities } from './handoff-effects';

export interface PathwayActivityDeps {
  fhir: FhirRepository;
  /** The compiled plan of a definition by url|version (the worker's definitions). */
  plans: { plan(canonical: string): Plan };
}

export interface ApplyEffectsInput {
  familyId: string;
  canonical: string;
  refs: FamilyRefs;
  snapshot: Omit<PathwayState, 'timeline' | 'applied'>;
  effects: PathwayEffect[];
}

const TIMING_UNIT = { h: 'h', d: 'd', w: 'wk', mo: 'mo', y: 'a' } as const;

export function createPathwayActivities({ fhir, plans }: PathwayActivityDeps) {
  const cache = new Map<string, Plan>();
  const planOf = (canonical: string) => {
    let plan = cache.get(canonical);
    if (!plan) cache.set(canonical, (plan = plans.plan(canonical)));
    return plan;
  };
  const exists = (resourceType: Resource['resourceType'], id: string) => readIfPresent(fhir, resourceType, id);

  async function applyPathwayEffects(input: ApplyEffectsInput): Promise<void> {
    const plan = planOf(input.canonical);
    const { refs, snapshot, familyId } = input;
    const party = (service: string) => serviceParty(plan, refs, service);
    const stepOf = (id: string): PlanStep => plan.steps.find((s) => s.id === id)!;
    const subjectFor = (step: PlanStep) => ((step.kind === 'intervention' ? step.start : step.at).anchor === 'birth' && refs.child ? refs.child : refs.patient);
    const entries: BundleEntry[] = [];
    const put = (resource: Resource) => entries.push({ resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } });

    for (const effect of input.effects) {
      switch (effect.type) {
        case 'planned-encounter': {
          const s = snapshot.steps.find((x) => x.key === effect.step);
          const step = stepOf(s?.step ?? effect.step);
          if (step.kind === 'intervention') break;
          const current = (await exists('Encounter', stableId(familyId, 'Encounter', effect.step))) as Encounter | undefined;
          if (current && !['planned', 'cancelled'].includes(current.status)) break;
          put(
            buildPlannedEncounter({
              familyId,
              stepKey: effect.step,
              status: effect.status,
              encounterClass: step.encounterClass,
              type: step.code,
              subject: subjectFor(step),
              serviceProvider: refs.services?.[step.deliveredBy],
              period: { start: effect.start, end: effect.end },
            }),
          );
          break;
        }
        case 'notify-coordinator': {
          const notice = buildCoordinatorNotice({ familyId, key: effect.key, on: effect.on, text: effect.text, subject: refs.patient, sender: refs.organization, recipient: refs.coordinator });
          if (!(await exists('Communication', notice.id!))) put(notice);
          break;
        }
        case 'start-handoff': {
          const def = plan.handoffs[effect.handoff];
          const { consent, serviceRequest, task } = buildHandoffRequest({
            familyId,
            key: effect.key,
            on: effect.on,
            title: def.title,
            reason: def.reason,
            legalBasis: def.legalBasis,
            subject: refs.patient,
            requester: party(def.from),
            owner: party(def.to),
          });
          if (!(await exists('Task', task.id!))) {
            put(consent);
            put(serviceRequest);
            put(task);
          }
          break;
        }
        case 'open-check': {
          const check = plan.checks[effect.check];
          const task = buildCheckTask({ familyId, key: effect.key, on: effect.on, due: effect.due, title: check.title, code: check.code, subject: refs.patient, owner: party(effect.owner), requester: { reference: refs.organization } });
          if (!(await exists('Task', task.id!))) put(task);
          break;
        }
        case 'care-plan':
        case 'closed':
        case 'hold-handoff': // signalled to the handoff's own workflow
          break;
      }
    }
    if (input.effects.some((e) => e.type === 'care-plan' || e.type === 'closed')) put(carePlanFor(plan, input, party));
    if (entries.length === 0) return;
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: entries };
    await fhir.transaction(bundle);
  }

  return { applyPathwayEffects, ...createHandoffActivities({ fhir, planOf }) };
}

function carePlanFor(plan: Plan, input: ApplyEffectsInput, party: (service: string) => Reference<Organization>) {
  const { snapshot } = input;
  const activities: CarePlanActivityInput[] = snapshot.steps.map((s) => {
    const step = plan.steps.find((p) => p.id === s.step)!;
    const base = { key: s.key, title: step.title, code: step.code, state: s.status, performer: party(step.deliveredBy), source: step.source.title, ...(s.reason ? { reason: s.reason } : {}) };
    if (step.kind === 'intervention') {
      return { ...base, repeat: { period: step.every.n, periodUnit: TIMING_UNIT[step.every.unit], ...(step.count ? { count: step.count } : {}), bounds: { ...(s.start ? { start: s.start } : {}), ...(s.end ? { end: s.end } : {}) } } };
    }
    return { ...base, ...(s.earliest ? { period: { start: s.earliest, end: s.latest } } : {}) };
  });
  const phase = plan.phases.find((p) => p.id === snapshot.phase);
  return buildCarePlan({
    familyId: input.familyId,
    canonical: plan.canonical,
    title: plan.title,
    status: snapshot.closed ? snapshot.closed.carePlanStatus : snapshot.status === 'paused' ? 'on-hold' : 'active',
    subject: input.refs.patient,
    author: input.refs.organization,
    coordinator: input.refs.coordinator,
    ...(phase ? { phase: { id: phase.id, title: phase.title } } : {}),
    period: { start: snapshot.anchors.enrolment, ...(snapshot.closed ? { end: snapshot.closed.on } : {}) },
    activities,
  });
}

export type PathwayActivities = ReturnType<typeof createPathwayActivities>;
export declare const applyPathwayEffects: PathwayActivities['applyPathwayEffects'];
export declare const applyHandoffEffects: PathwayActivities['applyHandoffEffects'];
