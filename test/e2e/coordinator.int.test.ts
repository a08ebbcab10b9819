/**
 * End to end over HTTP, as the parties' systems and a coordinator use it:
 * the helsestasjon enrols a mother over FHIR, registers the birth and an
 * EPDS of 14 at six weeks; the pathway refers her to DPS (a ServiceRequest +
 * Task owned by the hospital); the hospital receives and accepts over FHIR,
 * and the deadline stops. The coordinator API shows the family's phase,
 * overdue contacts and the open handoff with the days left, to the
 * municipality's coordinator only; every call is audited.
 */
import type { AuditEvent, Bundle, Communication, Patient, Task } from '@medplum/fhirtypes';
import { INSTRUMENT_ITEM_SYSTEM } from '../../events/map-resource';
import { FORLOP_SYSTEMS } from '../../fhir/builders/pathway';
import type { FamilySummary } from '../../server/coordinator/api';
import { startStack, type Stack } from './harness';

jest.setTimeout(180_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack('2026-11-03', 'e2e-coordinator');
});
afterAll(async () => {
  await stack?.close();
});

interface FamilyList {
  today: string;
  total: number;
  families: FamilySummary[];
}

const auditCount = async () => (await stack.store.search('AuditEvent', { _count: '0', _total: 'accurate' })).total ?? 0;

it('refers an EPDS of 14 at six weeks to DPS, stops the deadline when DPS accepts over FHIR, and shows it all to the coordinator only', async () => {
  const helsestasjon = await stack.token('helsestasjon');
  const hospital = await stack.token('dps');
  const coordinator = await stack.token('koordinator', 'system/*.rs');
  const otherMunicipality = await stack.token('helsestasjon-fredrikstad');

  // Enrolment over FHIR: the mother and her pathway (EpisodeOfCare), due 1 December.
  const { patient, familyId } = await stack.enrol(helsestasjon, '2026-12-01');
  await stack.route();

  // The baby is born on 28 November: a newborn Patient linked to the mother.
  await stack.sleepUntil('2026-11-28');
  const baby = await stack.call<Patient>(helsestasjon, 'POST', '/fhir/Patient', {
    resourceType: 'Patient',
    birthDate: '2026-11-28',
    managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' },
    link: [{ other: { reference: patient }, type: 'seealso' }],
  });
  expect(baby.status).toBe(201);
  await stack.route();

  // Six weeks later the helsestasjon records EPDS 14 (item 10 answered 0).
  await stack.sleepUntil('2027-01-09');
  const epds = await stack.call(helsestasjon, 'POST', '/fhir/Observation', {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '99046-5' }] },
    subject: { reference: patient },
    effectiveDateTime: '2027-01-09',
    valueInteger: 14,
    component: [{ code: { coding: [{ system: INSTRUMENT_ITEM_SYSTEM, code: '10' }] }, valueInteger: 0 }],
  });
  expect(epds.status).toBe(201);
  await stack.route();
  await stack.sleepUntil('2027-01-11');

  // The hospital finds the referral addressed to it: a Task it owns, focused on the ServiceRequest.
  const owned = await stack.call<Bundle<Task>>(hospital, 'GET', `/fhir/Task?owner=Organization/sykehuset-ostfold-dps&status=requested`);
  expect(owned.status).toBe(200);
  const tasks = (owned.body.entry ?? []).map((e) => e.resource!).filter((t) => t.identifier?.some((i) => i.system === FORLOP_SYSTEMS.handoff));
  expect(tasks).toHaveLength(1);
  const task = tasks[0];
  expect(task).toMatchObject({ status: 'requested', for: { reference: patient }, requester: { reference: 'Organization/sarpsborg-helsestasjon' } });
  const request = await stack.call(hospital, 'GET', `/fhir/${task.focus!.reference}`);
  expect(request.status).toBe(200);

  // The coordinator sees the family: infant phase, contacts not recorded are overdue, the referral open.
  const before = await auditCount();
  let list = await stack.call<FamilyList>(coordinator, 'GET', '/api/families');
  expect(list.status).toBe(200);
  expect(await auditCount()).toBe(before + 1);
  expect(list.body.total).toBe(1);
  let family = list.body.families[0];
  expect(family).toMatchObject({ familyId, patient, status: 'active', phase: { id: 'infant' } });
  expect(family.overdue.map((s) => s.step)).toEqual(expect.arrayContaining(['hs-home-visit']));
  expect(family.openHandoffs).toEqual([expect.objectContaining({ handoff: 'mental-health-referral', status: 'requested', openedOn: '2027-01-09', escalations: 0 })]);
  // Pasient- og brukerrettighetsloven §2-2: ten working days from its arrival at DPS, which is the day it was sent (Saturday 9 January): by 22 January, shown from the start.
  expect(family.openHandoffs[0]).toMatchObject({ deadline: '2027-01-22', daysLeft: 11 });

  // DPS marks it received on Monday 11 January: the deadline does not move.
  const received = await stack.call<Task>(hospital, 'PUT', `/fhir/Task/${task.id}`, { ...task, status: 'received', lastModified: '2027-01-11' });
  expect(received.status).toBe(200);
  await stack.route();
  list = await stack.call<FamilyList>(coordinator, 'GET', '/api/families?overdue=true');
  family = list.body.families[0];
  expect(family.openHandoffs[0]).toMatchObject({ status: 'received', deadline: '2027-01-22', daysLeft: 11 });

  // It accepts on 13 January; the deadline stops: nothing is escalated when 22 January passes.
  await stack.sleepUntil('2027-01-13');
  const accepted = await stack.call<Task>(hospital, 'PUT', `/fhir/Task/${task.id}`, { ...received.body, status: 'accepted', lastModified: '2027-01-13' });
  expect(accepted.status).toBe(200);
  await stack.route();
  await stack.sleepUntil('2027-02-01');
  const detail = await stack.call<FamilySummary & { timeline: { on: string; what: string }[] }>(coordinator, 'GET', `/api/families/${familyId}`);
  expect(detail.status).toBe(200);
  expect(detail.body.openHandoffs[0]).toMatchObject({ status: 'accepted', escalations: 0 });
  expect(detail.body.timeline.some((e) => e.on === '2027-01-09' && /EPDS|screening/i.test(e.what))).toBe(true);
  const notices = (await stack.store.search('Communication', { subject: patient, _count: '200' })).resources as Communication[];
  expect(notices.filter((c) => /escalated/i.test(c.payload?.[0]?.contentString ?? '') && /DPS|psykisk/i.test(c.payload?.[0]?.contentString ?? ''))).toEqual([]);
  // Accepting opened the §10a check for the hospital.
  expect(detail.body.openChecks).toEqual([expect.objectContaining({ check: 'section-10a', status: 'open' })]);

  // Filters.
  expect((await stack.call<FamilyList>(coordinator, 'GET', '/api/families?organisation=Organization/sarpsborg-kommune')).body.total).toBe(1);
  expect((await stack.call<FamilyList>(coordinator, 'GET', '/api/families?phase=pregnancy')).body.total).toBe(0);
  expect((await stack.call<FamilyList>(coordinator, 'GET', '/api/families?status=closed')).body.total).toBe(0);

  // Another municipality sees no family, and the family is not found for it.
  expect((await stack.call<FamilyList>(otherMunicipality, 'GET', '/api/families')).body).toMatchObject({ total: 0, families: [] });
  expect((await stack.call(otherMunicipality, 'GET', `/api/families/${familyId}`)).status).toBe(404);
  expect((await stack.call(otherMunicipality, 'GET', `/api/families/${familyId}/timeline`)).status).toBe(404);

  // Without a CarePlan scope: 403 naming the scope; without a token: 401. Both audited.
  const narrow = await stack.token('koordinator', 'system/Task.rs');
  const beforeRefusals = await auditCount();
  const refused = await stack.call<{ issue: { diagnostics?: string; details?: { text?: string } }[] }>(narrow, 'GET', '/api/families');
  expect(refused.status).toBe(403);
  expect(JSON.stringify(refused.body)).toContain('system/CarePlan.s');
  expect((await fetch(`${stack.url}/api/families`)).status).toBe(401);
  expect(await auditCount()).toBe(beforeRefusals + 2);
  const audits = (await stack.store.search('AuditEvent', { _count: '5' })).resources as AuditEvent[];
  expect(audits.some((a) => a.outcome === '4')).toBe(true);

  // Bad parameters: a precise OperationOutcome.
  const bad = await stack.call<{ resourceType: string; issue: { expression?: string[] }[] }>(coordinator, 'GET', '/api/families?overdue=maybe');
  expect(bad.status).toBe(400);
  expect(bad.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ expression: ['overdue'] }] });
});
