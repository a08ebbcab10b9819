/**
 * The family's CareTeam as handoffs move (issue #21, item 3): the service that
 * accepts a handoff joins the family's care team, with the period it takes
 * part and the handoff's Task as the reason (an extension on the participant:
 * R4 CareTeam.participant has no reason element). Its participation ends (the
 * period gets its end) when the handoff closes without it (rejected,
 * cancelled, failed) or with it (completed: the discharge), or when it sends
 * the family back (it requests a handoff that is accepted, e.g. the return
 * handoff after DPS). docs/security.md: the receiving organisation "joins the
 * family when it is added to the care team on acceptance"; an ended
 * participation no longer counts (server/auth/organisation-access.ts).
 *
 * Pure: the router reads the current CareTeam, asks for the next version and
 * writes it (one family's changes go one after another, so there is no race).
 */
import type { CareTeam, CareTeamParticipant, Task } from '@medplum/fhirtypes';
import { FORLOP_SYSTEMS, stableId } from '../fhir/builders/pathway';

/** The Task (handoff) a participant joined the care team by. */
export const PARTICIPATION_REASON_EXTENSION = 'https://forlop.no/fhir/StructureDefinition/participation-reason';

/**
 * Who accepted, when the receiving system says so: a Practitioner or PractitionerRole reference in
 * this extension on the Task (R4 Task records no actor for a status change); they join with the
 * organisation, on its behalf.
 */
export const ACCEPTED_BY_EXTENSION = 'https://forlop.no/fhir/StructureDefinition/accepted-by';

export const careTeamId = (familyId: string) => stableId(familyId, 'CareTeam');

const JOINING = new Set(['accepted', 'in-progress']);
const ENDING = new Set(['rejected', 'cancelled', 'failed', 'entered-in-error', 'completed']);

const joinedBy = (p: CareTeamParticipant) => p.extension?.find((x) => x.url === PARTICIPATION_REASON_EXTENSION)?.valueReference?.reference;

export interface CareTeamFamily {
  familyId: string;
  patient: string;
  /** The family's municipality (the EpisodeOfCare's managing organisation). */
  organization?: string;
}

/** The CareTeam after this version of a handoff's Task, or undefined when it does not change. */
export function careTeamAfterTask(current: CareTeam | undefined, task: Task, family: CareTeamFamily, on: string): CareTeam | undefined {
  const owner = task.owner?.reference;
  const requester = task.requester?.reference;
  const reason = `Task/${task.id}`;
  const participants = (current?.participant ?? []).map((p) => ({ ...p }));
  let changed = false;
  const end = (p: CareTeamParticipant) => {
    if (p.period?.end) return;
    p.period = { ...p.period, end: on };
    changed = true;
  };
  if (JOINING.has(task.status) && owner?.startsWith('Organization/')) {
    if (!participants.some((p) => p.member?.reference === owner && joinedBy(p) === reason)) {
      participants.push({
        extension: [{ url: PARTICIPATION_REASON_EXTENSION, valueReference: { reference: reason } }],
        role: [{ text: `Receiving service: ${task.description ?? 'handoff'}` }],
        member: { reference: owner },
        period: { start: on },
      });
      changed = true;
    }
    const by = task.extension?.find((x) => x.url === ACCEPTED_BY_EXTENSION)?.valueReference?.reference;
    if (by && /^(Practitioner|PractitionerRole)\//.test(by) && !participants.some((p) => p.member?.reference === by && joinedBy(p) === reason)) {
      participants.push({
        extension: [{ url: PARTICIPATION_REASON_EXTENSION, valueReference: { reference: reason } }],
        role: [{ text: `Accepted: ${task.description ?? 'handoff'}` }],
        member: { reference: by },
        onBehalfOf: { reference: owner },
        period: { start: on },
      });
      changed = true;
    }
    // Sending the family back (a return handoff it requested is accepted) ends the sender's part.
    if (requester) for (const p of participants) if (p.member?.reference === requester && joinedBy(p) && joinedBy(p) !== reason) end(p);
  }
  if (ENDING.has(task.status)) for (const p of participants) if (joinedBy(p) === reason) end(p);
  if (!changed) return undefined;
  return {
    resourceType: 'CareTeam',
    id: careTeamId(family.familyId),
    identifier: [{ system: FORLOP_SYSTEMS.family, value: family.familyId }],
    status: 'active',
    name: 'Forløp: the services taking part in the family',
    subject: { reference: family.patient },
    ...(family.organization ? { managingOrganization: [{ reference: family.organization }] } : {}),
    participant: participants,
  };
}
