/**
 * A cohort of families through the whole pathway (`npm run bench -- cohort`):
 * N families (default 1,000) enrolled in pregnancy on the basis programme,
 * in ten groups with due dates a week apart; each birth is registered on its
 * due date; then time skips to every child's third birthday. Nobody records
 * a contact, so every contact becomes overdue and is escalated: the heaviest
 * path for timers and FHIR writes (CarePlan updates, planned Encounters,
 * Communications).
 *
 * Everything runs in this process: the embedded Temporal server with time
 * skipping, the real worker, the FHIR store on PGlite in memory. Prints wall
 * time, families/s, workflow runs, FHIR resources written and peak memory
 * (RSS, sampled every 100 ms) and the CPU time of all its threads.
 * Options: --families N (default 1000), --concurrency N (starts in flight, default 200),
 * --cache N (workflows the worker keeps cached; fewer saves memory and costs replays).
 */
import { randomUUID } from 'node:crypto';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createPathwayActivities } from '../activities/pathway-effects';
import type { Resource } from '@medplum/fhirtypes';
import type { FhirRepository } from '../fhir/repository';
import { FhirStore, openPglite } from '../fhir/store';
import { addWeeks, osloStartOfDay } from '../pathways/calendar';
import { DefinitionRegistry } from '../pathways/registry';
import { createTestEnvironment } from '../temporal/embedded/test-env';
import { createForlopWorker, workflowBundle } from '../temporal/worker';
import type { familyPathway } from '../workflows/family-pathway';
import { birthRegisteredSignal, FAMILY_PATHWAY_WORKFLOW, familyWorkflowId } from '../workflows/messages';
import { numberOption, textOption } from './options';

async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await task(next++);
  }));
}

export async function run(args: string[]): Promise<void> {
  const families = numberOption(args, 'families', 1000);
  const concurrency = numberOption(args, 'concurrency', 200);
  const groups = 10;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const enrolment = '2026-11-03';
  // The SDK's test environment on the embedded server: time skipping, client and worker connection.
  const env = await createTestEnvironment({ startTime: osloStartOfDay(enrolment) + 9 * 3_600_000 });
  const client = env.client;
  // On loopback gzip only costs CPU: the worker connects uncompressed, as `forlop start` does.
  const workerConnection = await NativeConnection.connect({ address: env.embedded.address, grpcCompression: { codec: 'none' } } as never);
  // --fhir memory: a map instead of the FHIR store, to see the workflow side's own cost.
  const memory = args.includes('--fhir') && args[args.indexOf('--fhir') + 1] === 'memory';
  const store = memory ? undefined : await FhirStore.open(await openPglite());
  const kept = new Map<string, Resource>();
  const fhir: FhirRepository = store ?? {
    async read(type, id) {
      const r = kept.get(`${type}/${id}`);
      if (!r) throw Object.assign(new Error('not found'), { status: 404 });
      return r as never;
    },
    async transaction(bundle) {
      for (const e of bundle.entry ?? []) if (e.resource) kept.set(`${e.resource.resourceType}/${e.resource.id}`, e.resource);
      return { resourceType: 'Bundle', type: 'transaction-response' };
    },
    async search(type) {
      return { resources: [...kept.values()].filter((r) => r.resourceType === type) };
    },
  };
  const registry = DefinitionRegistry.builtIn();
  const plan = registry.plan('Basisprogram');
  await workflowBundle();
  const taskQueue = 'cohort';
  let activities = 0;
  const pathwayActivities = createPathwayActivities({ fhir, plans: registry });
  const worker = await createForlopWorker({
    connection: workerConnection,
    taskQueue,
    activities: { applyPathwayEffects: (input: Parameters<typeof pathwayActivities.applyPathwayEffects>[0]) => (activities++, pathwayActivities.applyPathwayEffects(input)) },
    maxConcurrentWorkflowTaskExecutions: 100,
    maxConcurrentActivityTaskExecutions: 100,
    workflowThreadPoolSize: numberOption(args, 'workflow-threads', 2),
    ...(textOption(args, 'cache') !== undefined ? { maxCachedWorkflows: numberOption(args, 'cache', 0) } : {}),
  });

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const dueDates = Array.from({ length: groups }, (_, g) => addWeeks('2027-05-04', g));
  const ids: string[][] = dueDates.map(() => []);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await worker.runUntil(async () => {
    await pool(families, concurrency, async (i) => {
      const familyId = randomUUID();
      const g = i % groups;
      ids[g].push(familyId);
      await client.workflow.start<typeof familyPathway>(FAMILY_PATHWAY_WORKFLOW, {
        taskQueue,
        workflowId: familyWorkflowId(familyId),
        args: [{ familyId, plan, refs: { patient: `Patient/bench-${i}`, organization: 'Organization/bench-kommune', coordinator: 'Practitioner/bench-coordinator' }, anchors: { enrolment, dueDate: dueDates[g] } }],
      });
    });
    const started = performance.now();
    console.log(`  started ${families} families in ${((started - t0) / 1000).toFixed(1)} s`);
    // Each group's births on its due date (mid-morning), time skipping in between.
    for (const [g, due] of dueDates.entries()) {
      const now = await env.currentTimeMs();
      const at = osloStartOfDay(due) + 10 * 3_600_000;
      if (at > now) await env.sleep(at - now);
      await pool(ids[g].length, concurrency, async (j) => client.workflow.getHandle(familyWorkflowId(ids[g][j])).signal(birthRegisteredSignal, { date: due }));
    }
    console.log(`  births registered after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    let closed = 0;
    await pool(families, concurrency, async (i) => {
      const g = i % groups;
      const familyId = ids[g][Math.floor(i / groups)];
      if (!familyId) return;
      const result = await client.workflow.getHandle<typeof familyPathway>(familyWorkflowId(familyId)).result();
      if (result.exit === 'age-3') closed++;
    });
    if (closed !== families) throw new Error(`only ${closed} of ${families} families reached age 3`);
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  const notices = store ? (await store.search('Communication', { _count: '0', _total: 'accurate' })).total : [...kept.keys()].filter((k) => k.startsWith('Communication/')).length;
  console.log(`  ${families} families, enrolment to age 3: ${seconds.toFixed(1)} s wall, ${(families / seconds).toFixed(1)} families/s`);
  console.log(`  ${activities} activity executions (${(activities / seconds).toFixed(0)}/s), ${notices} coordinator notices; FHIR: ${store ? 'the store on PGlite (in memory)' : 'a map (--fhir memory)'}`);
  // All threads of the process (server, worker, its workflow threads, the SDK's core): the figure to halve
  // when wall time is bound by this machine's CPUs rather than by waiting.
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(`  CPU: ${cpuSeconds.toFixed(1)} s (${(cpu.user / 1e6).toFixed(1)} user + ${(cpu.system / 1e6).toFixed(1)} system), ${((cpuSeconds * 1000) / families).toFixed(0)} ms per family, ${(cpuSeconds / seconds).toFixed(2)} CPUs busy on average`);
  console.log(`  peak memory (RSS, server + worker + FHIR store in one process): ${(peakRss / 1024 / 1024).toFixed(0)} MB`);
  await workerConnection.close();
  await env.teardown();
  await store?.close();
}
