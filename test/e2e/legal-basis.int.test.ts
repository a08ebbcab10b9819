/**
 * End to end over HTTP: a handoff's legal basis is a Consent written with
 * the request, referenced from it, readable by the sender and the receiver
 * and by no one else; when the family withdraws its consent to sharing (a
 * Consent of the pathway-sharing category moved to inactive), the pathway
 * closes (exit "consent withdrawn") and the referral not yet decided goes on
 * hold: its Task on-hold, its Consent inactive, no escalation after the
 * deadline; the coordinator sees it all.
 */
import type { Bundle, CarePlan, Communication, Consent, ServiceRequest, Task } from '@medplum/fhirtypes';
import { CONSENT_CATEGORY_SYSTEM, LEGAL_BASIS_SYSTEM } from '../../fhir/builders/legal-basis';
import { carePlanId, FORLOP_SYSTEMS } from '../../fhir/builders/pathway';
import type { FamilySummary } from '../../server/coordinator/api';
import { startStack, type Stack } from './harness';

jest.setTimeout(180_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack('2026-11-03', 'e2e-legal-basis');
});
afterAll(async () => {
  await stack?.close();
});

type Detail = FamilySummary & { closed?: { exit: string }; timeline: { on: string; what: string }[] };

it('records the referral\'s legal basis as a Consent only its parties read, and holds the referral when the family withdraws consent', async () => {
  const helsestasjon = await stack.token('helsestasjon');
  const familieambulatorium = await stack.token('familieambulatorium');
  const otherMunicipality = await stack.token('helsestasjon-fredrikstad');
  const coordinator = await stack.token('koordinator', 'system/*.rs');

  // Enrolled in the familieambulatorium pathway: the municipality refers at enrolment, on consent.
  const { patient, familyId } = await stack.enrol(helsestasjon, '2027-04-01', { pathway: 'Familieambulatorium' });
  await stack.route();
  await stack.sleepUntil('2026-11-04');

  // (a) The receiver finds the Task; its ServiceRequest names the Consent that records the legal basis.
  const owned = await stack.call<Bundle<Task>>(familieambulatorium, 'GET', '/fhir/Task?owner=Organization/ostfold-familieambulatorium');
  const task = (owned.body.entry ?? []).map((e) => e.resource!).find((t) => t.identifier?.some((i) => i.system === FORLOP_SYSTEMS.handoff))!;
  expect(task).toMatchObject({ status: 'requested', requester: { reference: 'Organization/sarpsborg-helsestasjon' } });
  const request = await stack.call<ServiceRequest>(familieambulatorium, 'GET', `/fhir/${task.focus!.reference}`);
  expect(request.status).toBe(200);
  const consentRef = request.body.supportingInfo?.find((r) => r.reference?.startsWith('Consent/'))?.reference;
  expect(consentRef).toBeDefined();
  const consent = await stack.call<Consent>(familieambulatorium, 'GET', `/fhir/${consentRef}`);
  expect(consent.status).toBe(200);
  expect(consent.body).toMatchObject({
    status: 'active',
    scope: { coding: [{ code: 'patient-privacy' }] },
    patient: { reference: patient },
    dateTime: '2026-11-03',
    organization: [{ reference: 'Organization/sarpsborg-helsestasjon' }],
    policyRule: { coding: [{ system: LEGAL_BASIS_SYSTEM, code: 'consent' }] },
    provision: { actor: [{ reference: { reference: 'Organization/ostfold-familieambulatorium' } }], purpose: [{ code: 'TREAT' }] },
  });
  // The Consent was stored no later than the request it covers (same transaction, written first).
  expect(Number(consent.body.meta!.versionId)).toBe(1);
  expect(Date.parse(consent.body.meta!.lastUpdated!)).toBeLessThanOrEqual(Date.parse(request.body.meta!.lastUpdated!));
  // The sender reads it too; another municipality gets 404 by id and nothing by search.
  expect((await stack.call(helsestasjon, 'GET', `/fhir/${consentRef}`)).status).toBe(200);
  expect((await stack.call(otherMunicipality, 'GET', `/fhir/${consentRef}`)).status).toBe(404);
  const searched = await stack.call<Bundle>(otherMunicipality, 'GET', `/fhir/Consent?patient=${patient}`);
  expect(searched.status).toBe(200);
  expect(searched.body.entry ?? []).toEqual([]);

  // The receiver opens the referral on 4 November. A decision is due ten working days from when it was sent on
  // 3 November (pasient- og brukerrettighetsloven §2-2; familieambulatorium 1.1.0 counts from sending): 17 November.
  const received = await stack.call<Task>(familieambulatorium, 'PUT', `/fhir/Task/${task.id}`, { ...task, status: 'received', lastModified: '2026-11-04' });
  expect(received.status).toBe(200);
  await stack.route();
  await stack.sleepUntil('2026-11-05');
  let detail = await stack.call<Detail>(coordinator, 'GET', `/api/families/${familyId}`);
  expect(detail.body.openHandoffs).toEqual([expect.objectContaining({ handoff: 'familieambulatorium-referral', status: 'received', deadline: '2026-11-17' })]);

  // (d) The family's consent to sharing, recorded by the helsestasjon, then withdrawn on 5 November.
  const sharing = {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: CONSENT_CATEGORY_SYSTEM, code: 'pathway-sharing' }] }],
    patient: { reference: patient },
    dateTime: '2026-11-03',
    organization: [{ reference: 'Organization/sarpsborg-helsestasjon' }],
    policyRule: { coding: [{ system: LEGAL_BASIS_SYSTEM, code: 'consent' }] },
  };
  const given = await stack.call<Consent>(helsestasjon, 'POST', '/fhir/Consent', sharing);
  expect(given.status).toBe(201);
  await stack.route();
  const withdrawn = await stack.call<Consent>(helsestasjon, 'PUT', `/fhir/Consent/${given.body.id}`, { ...given.body, status: 'inactive', dateTime: '2026-11-05' });
  expect(withdrawn.status).toBe(200);
  await stack.route();
  await stack.sleepUntil('2026-11-06');

  // The pathway closed with the definition's exit; the referral is on hold, shown as such to the coordinator.
  detail = await stack.call<Detail>(coordinator, 'GET', `/api/families/${familyId}`);
  expect(detail.status).toBe(200);
  expect(detail.body).toMatchObject({ status: 'closed', closed: { exit: 'consent-withdrawn' } });
  expect(detail.body.openHandoffs).toEqual([expect.objectContaining({ handoff: 'familieambulatorium-referral', status: 'on-hold', held: 'legal basis consent withdrawn' })]);
  expect(detail.body.openHandoffs[0].deadline).toBeUndefined();
  const whats = detail.body.timeline.map((e) => `${e.on} ${e.what}`);
  expect(whats).toEqual(expect.arrayContaining(['2026-11-03 Legal basis consent: active', '2026-11-05 Legal basis consent: withdrawn', '2026-11-05 Pathway closed: Samtykke trukket']));
  expect((await stack.store.read<CarePlan>('CarePlan', carePlanId(familyId))).status).toBe('revoked');

  // The receiver's Task is on hold with the reason, and the handoff's Consent no longer permits.
  const heldTask = await stack.call<Task>(familieambulatorium, 'GET', `/fhir/Task/${task.id}`);
  expect(heldTask.body).toMatchObject({ status: 'on-hold', statusReason: { text: expect.stringContaining('withdrawn') } });
  expect((await stack.call<Consent>(familieambulatorium, 'GET', `/fhir/${consentRef}`)).body).toMatchObject({ status: 'inactive', provision: { period: { end: '2026-11-05' } } });

  // Past the deadline nothing is escalated for a held referral.
  await stack.sleepUntil('2026-12-01');
  const notices = (await stack.store.search('Communication', { subject: patient, _count: '200' })).resources as Communication[];
  expect(notices.filter((c) => /escalated/i.test(c.payload?.[0]?.contentString ?? ''))).toEqual([]);
});
