import type { Task } from '@medplum/fhirtypes';
import { ACCEPTED_BY_EXTENSION, careTeamAfterTask, PARTICIPATION_REASON_EXTENSION } from './care-team';

const family = { familyId: 'f1', patient: 'Patient/m1', organization: 'Organization/sarpsborg-kommune' };
const task = (status: Task['status'], extra: Partial<Task> = {}): Task => ({
  resourceType: 'Task',
  id: 't1',
  status,
  intent: 'order',
  description: 'Henvisning til DPS',
  requester: { reference: 'Organization/sarpsborg-helsestasjon' },
  owner: { reference: 'Organization/sykehuset-ostfold-dps' },
  ...extra,
});
const reason = [{ url: PARTICIPATION_REASON_EXTENSION, valueReference: { reference: 'Task/t1' } }];

describe('careTeamAfterTask', () => {
  it('adds the accepting organisation, and the practitioner who accepted on its behalf when the Task names one', () => {
    const team = careTeamAfterTask(undefined, task('accepted', { extension: [{ url: ACCEPTED_BY_EXTENSION, valueReference: { reference: 'Practitioner/p1' } }] }), family, '2026-11-12');
    expect(team?.participant).toEqual([
      { extension: reason, role: [{ text: 'Receiving service: Henvisning til DPS' }], member: { reference: 'Organization/sykehuset-ostfold-dps' }, period: { start: '2026-11-12' } },
      { extension: reason, role: [{ text: 'Accepted: Henvisning til DPS' }], member: { reference: 'Practitioner/p1' }, onBehalfOf: { reference: 'Organization/sykehuset-ostfold-dps' }, period: { start: '2026-11-12' } },
    ]);
  });

  it('changes nothing when the same acceptance arrives again or the Task is only received', () => {
    const team = careTeamAfterTask(undefined, task('accepted'), family, '2026-11-12');
    expect(careTeamAfterTask(team, task('in-progress'), family, '2026-11-13')).toBeUndefined();
    expect(careTeamAfterTask(undefined, task('received'), family, '2026-11-11')).toBeUndefined();
  });

  it('ends the participation at discharge, and when the service sends the family back by a handoff that is accepted', () => {
    const team = careTeamAfterTask(undefined, task('accepted'), family, '2026-11-12');
    expect(careTeamAfterTask(team, task('completed'), family, '2026-12-15')?.participant?.[0].period).toEqual({ start: '2026-11-12', end: '2026-12-15' });
    const back = task('accepted', { id: 't2', requester: { reference: 'Organization/sykehuset-ostfold-dps' }, owner: { reference: 'Organization/sarpsborg-helsestasjon' } });
    const after = careTeamAfterTask(team, back, family, '2026-12-20');
    expect(after?.participant?.map((p) => [p.member?.reference, p.period])).toEqual([
      ['Organization/sykehuset-ostfold-dps', { start: '2026-11-12', end: '2026-12-20' }],
      ['Organization/sarpsborg-helsestasjon', { start: '2026-12-20' }],
    ]);
  });
});
