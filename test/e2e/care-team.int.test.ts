/**
 * The service that accepts joins the family (issue #21, item 3), on the whole
 * stack in one process: an EPDS of 14 refers the mother to DPS; until DPS
 * accepts, it sees only the Task it owns (the mother's Patient and the
 * family's CarePlan answer 404, /api/families lists nothing). Once it accepts,
 * the family's CareTeam names DPS from that day with the handoff as the
 * reason, and DPS reads the Patient and the CarePlan and sees the family in
 * /api/families. When DPS completes the handoff (the discharge) its
 * participation ends, and with it its access to the family.
 */
import type { Bundle, CareTeam, Task } from '@medplum/fhirtypes';
import { careTeamId, PARTICIPATION_REASON_EXTENSION } from '../../events/care-team';
import { INSTRUMENT_ITEM_SYSTEM } from '../../events/map-resource';
import { carePlanId, FORLOP_SYSTEMS } from '../../fhir/builders/pathway';
import { startStack, until, type Stack } from './harness';

jest.setTimeout(120_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack('2026-11-03', 'care-team');
});
afterAll(() => stack.close());

type FamilyList = { families: { familyId: string }[] };

it('adds DPS to the care team when it accepts, so it reads the family, and ends its part at discharge', async () => {
  const helsestasjon = await stack.token('helsestasjon');
  const dps = await stack.token('dps');
  const { patient, familyId } = await stack.enrol(helsestasjon, '2027-06-01');
  await stack.route();
  await stack.sleepUntil('2026-11-10');
  expect(
    (
      await stack.call(helsestasjon, 'POST', '/fhir/Observation', {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '99046-5' }] },
        subject: { reference: patient },
        effectiveDateTime: '2026-11-10',
        valueInteger: 14,
        component: [{ code: { coding: [{ system: INSTRUMENT_ITEM_SYSTEM, code: '10' }] }, valueInteger: 0 }],
      })
    ).status,
  ).toBe(201);
  await stack.route();
  await stack.sleepUntil('2026-11-11');

  const task = await until('the referral Task for DPS', async () => {
    const owned = await stack.call<Bundle<Task>>(dps, 'GET', '/fhir/Task?owner=Organization/sykehuset-ostfold-dps');
    return (owned.body.entry ?? []).map((e) => e.resource!).find((t) => t.identifier?.some((i) => i.system === FORLOP_SYSTEMS.handoff));
  });
  const patientPath = `/fhir/${patient}`;
  const carePlanPath = `/fhir/CarePlan/${carePlanId(familyId)}`;
  // Before it accepts, DPS is no part of the family.
  expect((await stack.call(dps, 'GET', patientPath)).status).toBe(404);
  expect((await stack.call(dps, 'GET', carePlanPath)).status).toBe(404);
  expect((await stack.call<FamilyList>(dps, 'GET', '/api/families')).body.families).toEqual([]);

  const received = await stack.call<Task>(dps, 'PUT', `/fhir/Task/${task.id}`, { ...task, status: 'received', lastModified: '2026-11-11' });
  expect(received.status).toBe(200);
  await stack.route();
  expect((await stack.call(dps, 'GET', patientPath)).status).toBe(404);
  await stack.sleepUntil('2026-11-12');
  const accepted = await stack.call<Task>(dps, 'PUT', `/fhir/Task/${task.id}`, { ...received.body, status: 'accepted', lastModified: '2026-11-12' });
  expect(accepted.status).toBe(200);
  await stack.route();

  const team = await stack.store.read<CareTeam>('CareTeam', careTeamId(familyId));
  expect(team).toMatchObject({
    status: 'active',
    subject: { reference: patient },
    managingOrganization: [{ reference: 'Organization/sarpsborg-kommune' }],
    participant: [
      {
        member: { reference: 'Organization/sykehuset-ostfold-dps' },
        period: { start: '2026-11-12' },
        extension: [{ url: PARTICIPATION_REASON_EXTENSION, valueReference: { reference: `Task/${task.id}` } }],
      },
    ],
  });
  expect((await stack.call(dps, 'GET', patientPath)).status).toBe(200);
  expect((await stack.call(dps, 'GET', carePlanPath)).status).toBe(200);
  expect((await stack.call<FamilyList>(dps, 'GET', '/api/families')).body.families.map((f) => f.familyId)).toEqual([familyId]);

  // Discharge: DPS completes the handoff; its participation ends that day, and its access to the family with it.
  await stack.sleepUntil('2026-12-15');
  const completed = await stack.call<Task>(dps, 'PUT', `/fhir/Task/${task.id}`, { ...accepted.body, status: 'completed', lastModified: '2026-12-15' });
  expect(completed.status).toBe(200);
  await stack.route();
  const after = await stack.store.read<CareTeam>('CareTeam', careTeamId(familyId));
  expect(after.participant).toEqual([expect.objectContaining({ member: { reference: 'Organization/sykehuset-ostfold-dps' }, period: { start: '2026-11-12', end: '2026-12-15' } })]);
  expect((await stack.call(dps, 'GET', patientPath)).status).toBe(404);
  expect((await stack.call<FamilyList>(dps, 'GET', '/api/families')).body.families).toEqual([]);
});
