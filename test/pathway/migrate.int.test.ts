/**
 * Moving a running family to a new version on the whole stack: a family
 * enrolled through the API on the nine-month variant 1.0.0 (from the
 * deployment's definitions directory) is shown its diff in a dry run, then
 * moved to 1.0.1 by its workflow's validated update; its CarePlan names the
 * new version and lists the new step, and a Provenance and an AuditEvent
 * record who decided and why; the coordinator API shows the new version.
 */
import path from 'node:path';
import type { AuditEvent, CarePlan, Encounter, Provenance } from '@medplum/fhirtypes';
import { startInProcessStack, type InProcessStack } from '../../app/in-process-stack';
import { describeMigration, familiesOn, migrateFamilies } from '../../app/pathway-migrate';
import { carePlanId, stableId } from '../../fhir/builders/pathway';
import { loadDefinitionsDirectory } from '../../pathways/definitions-directory';
import { pathwayStateQuery, recordEventUpdate } from '../../workflows/messages';
import { savePathwayHistories } from './history-fixtures';
import './harness';

jest.setTimeout(300_000);

const LOCAL = path.join(__dirname, 'local-definitions');
const V100 = 'https://example.kommune.no/pathways/helsestasjon|1.0.0';
const V101 = 'https://example.kommune.no/pathways/helsestasjon|1.0.1';
const { registry } = loadDefinitionsDirectory(LOCAL);

let stack: InProcessStack;
beforeAll(async () => {
  stack = await startInProcessStack('2026-10-23', 'migrate-test', { pathwaysDir: LOCAL });
});
afterAll(() => stack?.close());

async function carePlanOf(familyId: string, canonical: string): Promise<CarePlan> {
  for (let i = 0; i < 200; i++) {
    const plan = await stack.store.read<CarePlan>('CarePlan', carePlanId(familyId)).catch(() => undefined);
    if (plan?.instantiatesCanonical?.[0] === canonical) return plan;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the CarePlan of ${familyId} never named ${canonical}`);
}

it('shows the diff in a dry run, then moves the family with a Provenance and an AuditEvent', async () => {
  const { familyId } = await stack.enrol(await stack.token('helsestasjon'), '2027-05-01', { pathway: V100 });
  await stack.route();
  await carePlanOf(familyId, V100);
  expect(await familiesOn(stack.store, V100)).toEqual([familyId]);
  // The child is born: the helsestasjon consultations get dates and planned Encounters.
  await stack.sleepUntil('2027-05-10');
  await stack.env.client.workflow.getHandle(`family-${familyId}`).executeUpdate(recordEventUpdate, { args: [{ type: 'birth-registered', date: '2027-04-28' }] });
  const encounter = (key: string) => stack.store.read<Encounter>('Encounter', stableId(familyId, 'Encounter', key));
  expect((await encounter('hs-4m')).status).toBe('planned');

  const request = { from: registry.plan(V100), to: registry.plan(V101), decidedBy: 'Leder, helsestasjonen', reason: 'Nine-month window widened (decision 2026-11)', today: stack.today() };
  const [dry] = await migrateFamilies(stack.env.client, stack.store, { ...request, dryRun: true });
  expect(dry.outcome).toBe('would-move');
  expect(dry.diff).toMatchObject({ added: ['hs-4m-home'], removed: [{ key: 'hs-4m', status: 'planned' }], redated: [{ key: 'hs-9m', from: '2028-01-28', to: '2028-01-26' }] });
  expect(describeMigration(dry)).toBe(`would-move family ${familyId}: added hs-4m-home; removed hs-4m (planned); re-dated hs-9m 2028-01-28 -> 2028-01-26`);
  // Nothing moved yet.
  expect((await stack.env.client.workflow.getHandle(`family-${familyId}`).query(pathwayStateQuery)).canonical).toBe(V100);

  const [moved] = await migrateFamilies(stack.env.client, stack.store, { ...request, dryRun: false });
  expect(moved.outcome).toBe('moved');
  const state = await stack.env.client.workflow.getHandle(`family-${familyId}`).query(pathwayStateQuery);
  expect(state.canonical).toBe(V101);
  expect(state.timeline.slice(-2).map((t) => t.what)).toEqual([`Moved from ${V100} to ${V101}: 1 steps added, 1 removed, 1 re-dated`, 'Migration decided by Leder, helsestasjonen: Nine-month window widened (decision 2026-11)']);
  const carePlan = await carePlanOf(familyId, V101);
  expect(JSON.stringify(carePlan.activity)).toContain('hs-4m-home');
  // The removed consultation's planned Encounter is cancelled; the new home visit has one.
  expect((await encounter('hs-4m')).status).toBe('cancelled');
  expect(await encounter('hs-4m-home')).toMatchObject({ status: 'planned', period: { start: '2027-08-18', end: '2027-09-08' } });

  const provenances = (await stack.store.search('Provenance', { _count: '10' })).resources as Provenance[];
  expect(provenances).toEqual([expect.objectContaining({ target: [{ reference: `CarePlan/${carePlanId(familyId)}` }], agent: [expect.objectContaining({ who: { display: 'Leder, helsestasjonen' } })] })]);
  expect(provenances[0].reason?.[0].text).toContain('Nine-month window widened');
  const audits = (await stack.store.search('AuditEvent', { _count: '1000' })).resources as AuditEvent[];
  expect(audits.filter((a) => a.subtype?.some((s) => s.code === 'pathway-migration'))).toEqual([
    expect.objectContaining({ action: 'U', entity: [{ what: { reference: `CarePlan/${carePlanId(familyId)}` } }, { what: { reference: `Provenance/${provenances[0].id}` } }] }),
  ]);
  // The coordinator sees the family on the new version, and the decision in its timeline.
  const view = await stack.call<{ canonical: string; timeline: { what: string }[] }>(await stack.token('koordinator', 'system/*.rs'), 'GET', `/api/families/${familyId}`);
  expect(view.status).toBe(200);
  expect(view.body.canonical).toBe(V101);
  expect(view.body.timeline.map((t) => t.what)).toContain('Migration decided by Leder, helsestasjonen: Nine-month window widened (decision 2026-11)');
  // Kept for the replay test (FORLOP_RECORD_HISTORIES=1): a later change must still replay a migrated family.
  const workflowId = `family-${familyId}`;
  savePathwayHistories('migration', [{ workflowId, history: await stack.env.client.workflow.getHandle(workflowId).fetchHistory() }]);
  // Moved once: a second run finds no family on the old version.
  expect(await migrateFamilies(stack.env.client, stack.store, { ...request, dryRun: false })).toEqual([]);
});
