/**
 * A referral no handoff takes does not vanish (issue #21, item 5), on the
 * whole stack in one process: a ServiceRequest for an enrolled mother to an
 * organisation that no handoff of her definition goes to starts nothing, so
 * the coordinator is told (a Communication to the care manager's
 * organisation) and the family's timeline in the coordinator API shows it,
 * once however many versions of the ServiceRequest are written.
 */
import type { Communication, ServiceRequest } from '@medplum/fhirtypes';
import { UNMATCHED_REFERRAL_CATEGORY, unmatchedReferralNoticeId } from '../../events/coordinator-notices';
import type { TimelineItem } from '../../server/coordinator/api';
import { startStack, until, type Stack } from './harness';

jest.setTimeout(120_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack('2026-11-03', 'unmatched-referral');
});
afterAll(() => stack.close());

it('records a referral to an organisation no handoff goes to on the family timeline and tells the coordinator, once', async () => {
  const helsestasjon = await stack.token('helsestasjon');
  const koordinator = await stack.token('koordinator', 'system/*.rs');
  const { patient, familyId } = await stack.enrol(helsestasjon, '2027-06-01');
  await stack.route();

  const referral = await stack.call<ServiceRequest>(helsestasjon, 'POST', '/fhir/ServiceRequest', {
    resourceType: 'ServiceRequest',
    status: 'active',
    intent: 'order',
    subject: { reference: patient },
    requester: { reference: 'Organization/sarpsborg-helsestasjon' },
    performer: [{ reference: 'Organization/fredrikstad-helsestasjon' }],
    authoredOn: '2026-11-03',
  });
  expect(referral.status).toBe(201);
  await stack.route();

  const notice = await stack.store.read<Communication>('Communication', unmatchedReferralNoticeId(referral.body.id!));
  expect(notice).toMatchObject({
    status: 'completed',
    subject: { reference: patient },
    about: [{ reference: `ServiceRequest/${referral.body.id}` }],
    recipient: [{ reference: 'Organization/sarpsborg-kommune' }],
    category: [{ coding: [{ code: UNMATCHED_REFERRAL_CATEGORY }] }],
  });
  expect(notice.payload?.[0].contentString).toContain('Organization/fredrikstad-helsestasjon');

  // Once the worker has written the family's CarePlan, the coordinator API finds the family.
  const timeline = await until('the family in the coordinator API', async () => {
    const response = await stack.call<{ timeline: TimelineItem[] }>(koordinator, 'GET', `/api/families/${familyId}/timeline`);
    return response.status === 200 && response;
  });
  const entries = timeline.body.timeline.filter((e) => e.kind === UNMATCHED_REFERRAL_CATEGORY);
  expect(entries).toEqual([expect.objectContaining({ on: '2026-11-03', notice: `Communication/${notice.id}` })]);
  expect(entries[0].what).toContain(`ServiceRequest/${referral.body.id}`);

  // A second version of the same referral: still one notice, one timeline entry.
  expect((await stack.call(helsestasjon, 'PUT', `/fhir/ServiceRequest/${referral.body.id}`, { ...referral.body, note: [{ text: 'urgent' }] })).status).toBe(200);
  await stack.route();
  const again = await stack.call<{ timeline: TimelineItem[] }>(koordinator, 'GET', `/api/families/${familyId}`);
  expect(again.body.timeline.filter((e) => e.kind === UNMATCHED_REFERRAL_CATEGORY)).toHaveLength(1);
  expect((await stack.store.read<Communication>('Communication', notice.id!)).meta?.versionId).toBe('1');
});
