/**
 * Forløp's notices to a family's coordinator about the event path, each a
 * Communication (category in FORLOP_SYSTEMS.communicationCategory) that the
 * coordinator API also shows on the family's timeline:
 *  - a failed event: one of the family's changes could not be delivered;
 *  - an unmatched referral: a ServiceRequest for the mother to an
 *    organisation that no handoff of her definition goes to, so nothing
 *    started (issue #21, item 5).
 *
 * The failed-event notice goes a Communication to the EpisodeOfCare's care manager
 * (when named) and its managing organisation, about the mother, saying which
 * stored version failed, why, and where to retry or dismiss it. It names no
 * person: the subject reference is enough for the coordinator's systems.
 */
import type { Communication, EpisodeOfCare, ServiceRequest } from '@medplum/fhirtypes';
import { FORLOP_SYSTEMS, stableId } from '../fhir/builders/pathway';
import type { FailedEvent } from './failed-events';

/** Communication.category code of Forløp's notices about failed events. */
export const FAILED_EVENT_CATEGORY = 'failed-event';

/** Communication.category code of Forløp's notices about referrals no handoff takes. */
export const UNMATCHED_REFERRAL_CATEGORY = 'unmatched-referral';

/** The categories the coordinator API puts on a family's timeline. */
export const TIMELINE_NOTICE_CATEGORIES = [FAILED_EVENT_CATEGORY, UNMATCHED_REFERRAL_CATEGORY];

const recipientsOf = (episode: EpisodeOfCare) => [episode.careManager, episode.managingOrganization].filter((r): r is NonNullable<typeof r> => Boolean(r?.reference)).map((r) => ({ reference: r.reference! }));

/** One per ServiceRequest (its id derives from it), however many versions are written. */
export const unmatchedReferralNoticeId = (serviceRequestId: string) => stableId('forlop-unmatched-referral', 'ServiceRequest', serviceRequestId);

export function unmatchedReferralNotice(sr: ServiceRequest, episode: EpisodeOfCare, definition: string, on: string): Communication {
  const recipients = recipientsOf(episode);
  const performers = (sr.performer ?? []).map((p) => p.reference ?? p.display ?? '?').join(', ');
  return {
    resourceType: 'Communication',
    id: unmatchedReferralNoticeId(sr.id!),
    status: 'completed',
    category: [{ coding: [{ system: FORLOP_SYSTEMS.communicationCategory, code: UNMATCHED_REFERRAL_CATEGORY, display: 'A referral no handoff takes' }] }],
    priority: 'urgent',
    subject: { reference: sr.subject!.reference! },
    ...(recipients.length ? { recipient: recipients } : {}),
    sent: on,
    about: [{ reference: `ServiceRequest/${sr.id}` }],
    payload: [
      {
        contentString:
          `A referral (ServiceRequest/${sr.id}) to ${performers} arrived for this family, but no handoff of its pathway (${definition}) goes to that organisation, so none was started. ` +
          'Follow it up by hand, or correct the performer to the organisation of one of the pathway\'s services.',
      },
    ],
  };
}

export function failedEventNotice(event: FailedEvent, episode: EpisodeOfCare): Communication {
  const recipients = recipientsOf(episode);
  return {
    resourceType: 'Communication',
    status: 'completed',
    category: [{ coding: [{ system: FORLOP_SYSTEMS.communicationCategory, code: FAILED_EVENT_CATEGORY, display: 'Forløp could not deliver a change' }] }],
    priority: 'urgent',
    subject: { reference: event.patient },
    ...(recipients.length ? { recipient: recipients } : {}),
    sent: event.firstFailed,
    about: [{ reference: event.resource.replace(/\/_history\/.*$/, '') }],
    payload: [
      {
        contentString:
          `Forløp could not deliver ${event.resource} to the family's pathway (${event.cause}): ${event.error} ` +
          `Fix the data, then retry it (POST /api/failed-events/${event.id}/retry) or dismiss it with a reason (POST /api/failed-events/${event.id}/dismiss).`,
      },
    ],
  };
}
