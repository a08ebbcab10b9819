/**
 * Handoffs and inbound events, through the whole stack in one process on
 * real time (app/in-process-stack.ts with the event router and notifier
 * following the change feed, woken by writes, as in `forlop start`):
 *
 *  - reaction time: a receiver's Task write accepted by the FHIR API ->
 *    the handoff workflow's state shows the new status (its query), for
 *    `--handoffs` referrals (default 30), one at a time; p50/p95/max.
 *    Target p95 <= 200 ms.
 *  - event throughput: `--writes` (default 1,000) Observations (EPDS) sent
 *    to the API at once over `--families` families (default 20); time until
 *    every one is in its family's workflow, and how many were lost or
 *    applied twice (both must be 0).
 */
import type { EpisodeOfCare, Patient, Task } from '@medplum/fhirtypes';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startInProcessStack, type InProcessStack } from '../app/in-process-stack';
import { DUE_DATE_EXTENSION, PATHWAY_TYPE_SYSTEM } from '../events/map-resource';
import { familyIdOf } from '../events/router';
import { osloDate } from '../pathways/calendar';
import { familyWorkflowId, handoffQuery, handoffWorkflowId, pathwayStateQuery } from '../workflows/messages';

function option(args: string[], name: string, fallback: number): number {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.split('=')[1]) : fallback;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function enrol(stack: InProcessStack, token: string, today: string): Promise<{ patient: string; familyId: string }> {
  const mother = await stack.call<Patient>(token, 'POST', '/fhir/Patient', { resourceType: 'Patient', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } });
  const due = osloDate(Date.now() + 150 * 86_400_000);
  const episode = await stack.call<EpisodeOfCare>(token, 'POST', '/fhir/EpisodeOfCare', {
    resourceType: 'EpisodeOfCare',
    status: 'active',
    type: [{ coding: [{ system: PATHWAY_TYPE_SYSTEM, code: 'Basisprogram' }] }],
    patient: { reference: `Patient/${mother.body.id}` },
    managingOrganization: { reference: 'Organization/sarpsborg-kommune' },
    period: { start: today },
    extension: [{ url: DUE_DATE_EXTENSION, valueDate: due }],
  });
  return { patient: `Patient/${mother.body.id}`, familyId: familyIdOf(episode.body.id!) };
}

const epds = (patient: string, score: number, day: string) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '99046-5' }] },
  subject: { reference: patient },
  effectiveDateTime: day,
  valueInteger: score,
});

async function until<T>(check: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 2): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export async function run(args: string[]): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const handoffs = option(args, 'handoffs', 30);
  const writes = option(args, 'writes', 1000);
  const familyCount = option(args, 'families', 20);
  const today = osloDate(Date.now());
  const stack = await startInProcessStack(today, 'bench-handoffs', { realTime: true, follow: true });
  try {
    const helsestasjon = await stack.token('helsestasjon');
    const dps = await stack.token('dps');
    const client = stack.env.client;

    // Reaction time: each referral's Task moved to received by DPS, until the handoff workflow has it.
    const latencies: number[] = [];
    for (let i = 0; i < handoffs; i++) {
      const family = await enrol(stack, helsestasjon, today);
      await until(() => client.workflow.getHandle(familyWorkflowId(family.familyId)).query(pathwayStateQuery).catch(() => undefined), 30_000, 10);
      await stack.call(helsestasjon, 'POST', '/fhir/Observation', epds(family.patient, 16, today));
      const task = await until(async () => (await stack.store.search('Task', { patient: family.patient, owner: 'Organization/sykehuset-ostfold-dps' })).resources[0] as Task | undefined, 30_000, 10);
      const handle = client.workflow.getHandle(handoffWorkflowId(family.familyId, task.identifier![0].value!.split('/').slice(1).join('/')));
      const answer = await stack.call(dps, 'PUT', `/fhir/Task/${task.id}`, { ...task, status: 'received', lastModified: today });
      if (answer.status !== 200) throw new Error(`Task update refused: HTTP ${answer.status}`);
      const accepted = performance.now();
      await until(async () => (await handle.query(handoffQuery)).status === 'received');
      latencies.push(performance.now() - accepted);
      if (process.env.BENCH_DEBUG) console.error(`referral ${i + 1}: ${(performance.now() - accepted).toFixed(0)} ms`);
    }
    latencies.sort((a, b) => a - b);
    console.log(`handoff reaction (Task write accepted -> handoff workflow state), ${handoffs} referrals one at a time:`);
    console.log(`  p50 ${percentile(latencies, 50).toFixed(0)} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms, max ${latencies[latencies.length - 1].toFixed(0)} ms (target p95 <= 200 ms)`);

    // Throughput: `writes` EPDS results at once over the families, until every one is in its workflow.
    const families = await Promise.all(Array.from({ length: familyCount }, () => enrol(stack, helsestasjon, today)));
    for (const f of families) await until(() => client.workflow.getHandle(familyWorkflowId(f.familyId)).query(pathwayStateQuery).catch(() => undefined), 30_000, 10);
    const screenings = async (familyId: string) => (await client.workflow.getHandle(familyWorkflowId(familyId)).query(pathwayStateQuery)).timeline.filter((e) => e.what.startsWith('Edinburgh')).length;
    const before = await Promise.all(families.map((f) => screenings(f.familyId)));
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(writes, 200) }, async () => {
        while (next < writes) {
          const i = next++;
          const answer = await stack.call(helsestasjon, 'POST', '/fhir/Observation', epds(families[i % familyCount].patient, 3, today));
          if (answer.status !== 201) throw new Error(`write ${i} refused: HTTP ${answer.status}`);
        }
      }),
    );
    const written = performance.now();
    const expected = families.map((_, i) => before[i] + Math.floor(writes / familyCount) + (i < writes % familyCount ? 1 : 0));
    let counts: number[] = [];
    await until(async () => {
      counts = await Promise.all(families.map((f) => screenings(f.familyId)));
      return counts.every((c, i) => c >= expected[i]);
    }, 300_000, 50);
    const applied = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    counts = await Promise.all(families.map((f) => screenings(f.familyId)));
    const got = counts.reduce((a, b) => a + b, 0) - before.reduce((a, b) => a + b, 0);
    const duplicated = counts.reduce((sum, c, i) => sum + Math.max(0, c - expected[i]), 0);
    const lost = counts.reduce((sum, c, i) => sum + Math.max(0, expected[i] - c), 0);
    console.log(`event throughput: ${writes} Observations sent at once (200 clients) over ${familyCount} families`);
    console.log(`  writes accepted in ${((written - started) / 1000).toFixed(1)} s (${(writes / ((written - started) / 1000)).toFixed(0)}/s); all in their workflows after ${((applied - started) / 1000).toFixed(1)} s (${(writes / ((applied - started) / 1000)).toFixed(0)} events/s)`);
    console.log(`  applied ${got} of ${writes}: lost ${lost}, applied twice ${duplicated}`);
  } finally {
    await stack.close();
  }
}
