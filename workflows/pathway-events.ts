/**
 * What happens to a family (events in) and what the pathway asks the world to
 * do about it (effects out). Plain data shared by the state machine, the
 * workflow, its clients and the activities.
 */
import type { IsoDate } from '../pathways/calendar';
import type { Coding } from '../pathways/plan';

export type LegalBasis = 'consent' | 'health-personnel-cooperation' | 'section-33';
export type HandoffStatus = 'requested' | 'received' | 'accepted' | 'rejected' | 'in-progress' | 'completed' | 'cancelled' | 'on-hold' | 'failed';

/**
 * A referral another system wrote over FHIR (its ServiceRequest, addressed to
 * one of the family's services), taken into a handoff: references only.
 */
export interface ReferralIn {
  /** ServiceRequest/<id>: the Task's focus. */
  serviceRequest: string;
  /** ServiceRequest.requester: who asks (an Organization, Practitioner or PractitionerRole reference). */
  requester?: string;
  /** ServiceRequest.performer: the configured service organisation that must act. */
  performer: string;
}

interface EventBase {
  /** The day it happened (Europe/Oslo). */
  date: IsoDate;
  /**
   * What the event came from, e.g. Encounter/123/_history/2: an event with an
   * id already applied is ignored, so a retried or duplicated delivery
   * changes nothing.
   */
  eventId?: string;
}

export type PathwayEvent =
  | (EventBase & { type: 'due-date-changed'; dueDate: IsoDate })
  | (EventBase & { type: 'birth-registered'; child?: string })
  | (EventBase & { type: 'pregnancy-ended' })
  | (EventBase & { type: 'encounter-recorded'; status: 'finished' | 'cancelled' | 'no-show'; step?: string; code?: Coding; encounter?: string })
  | (EventBase & { type: 'screening-recorded'; instrument: string; score: number; items?: Record<string, number>; step?: string; resource?: string })
  | (EventBase & { type: 'consent-changed'; basis: LegalBasis; status: 'active' | 'rejected' | 'withdrawn' })
  | (EventBase & { type: 'paused'; reason?: string })
  | (EventBase & { type: 'resumed' })
  | (EventBase & { type: 'moved'; municipality?: string })
  | (EventBase & { type: 'ended'; reason?: string })
  | (EventBase & { type: 'handoff-updated'; key: string; status: HandoffStatus; /** Task.businessStatus: a step of the treatment path, e.g. first-attendance. */ step?: string })
  /** A referral in: `handoff` is the definition's handoff to the receiving service, `key` derives from the ServiceRequest id. */
  | (EventBase & ReferralIn & { type: 'referral-received'; handoff: string; key: string });

export type PathwayEffect =
  /** The family's CarePlan must show the current state. */
  | { type: 'care-plan' }
  | { type: 'planned-encounter'; step: string; start: IsoDate; end: IsoDate; status: 'planned' | 'cancelled' }
  | { type: 'notify-coordinator'; key: string; on: IsoDate; text: string; step?: string; rule?: string }
  | { type: 'start-handoff'; key: string; on: IsoDate; handoff: string; rule?: string; referral?: ReferralIn }
  /** The handoff's legal basis was withdrawn or refused before the receiver decided: its Task goes on hold. */
  | { type: 'hold-handoff'; key: string; on: IsoDate; reason: string }
  | { type: 'open-check'; key: string; on: IsoDate; check: string; owner: string; due: IsoDate }
  | { type: 'closed'; on: IsoDate; exit: string; carePlanStatus: 'completed' | 'revoked' };

/**
 * The family's FHIR resources and organisations, as references
 * (Patient/123, Organization/456). References only: no names or national ids.
 */
export interface FamilyRefs {
  /** The pregnant woman or parent the pathway is for. */
  patient: string;
  child?: string;
  /** The family's municipality (its coordinating organisation). */
  organization: string;
  /** The named coordinator (Practitioner or PractitionerRole), when one is appointed. */
  coordinator?: string;
  /** The organisation that delivers each service of the definition (service id -> Organization/...). */
  services?: Record<string, string>;
}
