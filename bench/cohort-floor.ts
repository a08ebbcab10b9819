/**
 * The floor under the cohort figure (`npm run bench -- cohort-floor`): the
 * same families' wake-ups with no pathway behind them. Each family is one
 * workflow that sleeps to the days the cohort's families wake on (the basis
 * programme from enrolment to age 3, birth on the due date, ten groups a week
 * apart, as in bench/cohort.ts) and runs one no-op activity per wake, in
 * three shapes: timers only, a local activity, a regular activity (what the
 * pathway uses). Same embedded server with time skipping, same worker
 * settings, everything in this process.
 *
 * What is left between this and the cohort figure is Forløp's own cost (the
 * state machine, the effects' FHIR writes, payloads, continue-as-new); what
 * this costs, no workflow code can save.
 * Peak RSS is the process's since it started, so it is clean for the first
 * shape only (the regular activity, the heaviest, by default).
 * Options: --families N (default 1000), --shapes remote,local,timers.
 */
import { randomUUID } from 'node:crypto';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { addWeeks, osloStartOfDay } from '../pathways/calendar';
import type { Plan } from '../pathways/plan';
import { DefinitionRegistry } from '../pathways/registry';
import { createTestEnvironment } from '../temporal/embedded/test-env';
import { advance, applyEvent, nextWakeUp, startPathway } from '../workflows/pathway-state';
import type { cohortFloor, FloorMode } from './workflows/cohort-floor';
import { numberOption, textOption } from './options';

/** The days (as epoch ms, start of day in Oslo) a cohort family wakes on, by the pure state machine. */
function wakeTimes(plan: Plan, enrolment: string, dueDate: string): number[] {
  let state = startPathway(plan, 'floor', { enrolment, dueDate }, enrolment).state;
  let born = false;
  const wakes: number[] = [];
  for (;;) {
    const wake = nextWakeUp(plan, state);
    if (!born && (wake === undefined || wake > dueDate)) {
      state = applyEvent(plan, state, { type: 'birth-registered', date: dueDate }, dueDate).state;
      born = true;
      continue;
    }
    if (wake === undefined || state.status === 'closed') return wakes;
    wakes.push(osloStartOfDay(wake));
    state = advance(plan, state, wake).state;
  }
}

export async function run(args: string[]): Promise<void> {
  const families = numberOption(args, 'families', 1000, 1);
  const shapes = textOption(args, 'shapes', 'remote,local,timers').split(',') as FloorMode[];
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const plan = DefinitionRegistry.builtIn().plan('Basisprogram');
  const enrolment = '2026-11-03';
  const schedules = Array.from({ length: 10 }, (_, g) => wakeTimes(plan, enrolment, addWeeks('2027-05-04', g)));
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./workflows/cohort-floor'), logger: quiet as never });
  const counts = schedules.map((s) => s.length);
  console.log(`  ${families} families, ${Math.min(...counts)} to ${Math.max(...counts)} wake-ups each (the cohort's timer wake-ups; it also runs effects at enrolment, birth and phase changes)`);
  for (const shape of shapes) {
    const env = await createTestEnvironment({ startTime: osloStartOfDay(enrolment) + 9 * 3_600_000 });
    const connection = await NativeConnection.connect({ address: env.embedded.address, grpcCompression: { codec: 'none' } } as never);
    const worker = await Worker.create({
      connection,
      taskQueue: 'floor',
      workflowBundle,
      activities: { async noop() {} },
      // As bench/cohort.ts sets them.
      maxConcurrentWorkflowTaskExecutions: 100,
      maxConcurrentActivityTaskExecutions: 100,
      workflowThreadPoolSize: 2,
    });
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    let woke = 0;
    await worker.runUntil(async () => {
      const handles = await Promise.all(
        Array.from({ length: families }, (_, i) =>
          env.client.workflow.start<typeof cohortFloor>('cohortFloor', { taskQueue: 'floor', workflowId: `floor-${randomUUID()}`, args: [schedules[i % 10], shape] }),
        ),
      );
      for (const handle of handles) woke += await handle.result();
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    clearInterval(sampler);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const label = { timers: 'timers only', local: 'timer + local activity', remote: 'timer + activity' }[shape];
    console.log(
      `  ${label.padEnd(24)} ${seconds.toFixed(1).padStart(6)} s wall, ${woke} wake-ups, CPU ${cpuSeconds.toFixed(1)} s = ${((cpuSeconds * 1000) / families).toFixed(0)} ms per family (${(cpuSeconds / seconds).toFixed(2)} CPUs), peak RSS so far ${(peakRss / 1024 / 1024).toFixed(0)} MB`,
    );
    await connection.close();
    await env.teardown();
  }
}
