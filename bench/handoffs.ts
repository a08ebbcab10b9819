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
 *
 * Every workflow query here has a deadline (`--query-deadline-ms`, default
 * 2,000; `--reaction-query-deadline-ms`, default 250, while a reaction is
 * timed) and is asked again when it passes; the figures say how many went
 * unanswered (0 expected: a query the embedded server once lost, when a
 * workflow task overtook it, made this bench hang). The whole suite stops
 * after `--timeout` seconds (default 300), printing how far it got.
 * BENCH_DEBUG=1 prints each step.
 */
import type { Task } from '@medplum/fhirtypes';
import type { QueryDefinition } from '@temporalio/common';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startInProcessStack } from '../app/in-process-stack';
import { osloDate } from '../pathways/calendar';
import { familyWorkflowId, handoffQuery, handoffWorkflowId, pathwayStateQuery } from '../workflows/messages';
import { numberOption } from './options';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** A mother due in 150 days (pregnant, on the basis programme). */
const dueIn150Days = () => osloDate(Date.now() + 150 * 86_400_000);

const epds = (patient: string, score: number, day: string) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '99046-5' }] },
  subject: { reference: patient },
  effectiveDateTime: day,
  valueInteger: score,
});

class TimedOut extends Error {}

/** The suite's deadline (--timeout) and where it has got to, for the message when it passes. */
const progress = { phase: 'starting', done: '', deadline: Infinity };

const debug = (msg: string) => {
  if (process.env.BENCH_DEBUG) console.error(`[${new Date().toISOString().slice(11, 23)}] ${msg}`);
};

/**
 * Polls `check` until it returns a value. Gives up after `timeoutMs` (or at the suite's
 * deadline) even when a check itself never settles.
 */
async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 2): Promise<T> {
  const deadline = Math.min(Date.now() + timeoutMs, progress.deadline);
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimedOut(`timed out waiting for ${what}`)), Math.max(0, deadline - Date.now()));
    });
    try {
      const value = await Promise.race([check(), expired]);
      if (value) return value;
    } finally {
      clearTimeout(timer);
    }
    if (Date.now() > deadline) throw new TimedOut(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A step, announced under BENCH_DEBUG. */
function step<T>(label: string, work: () => Promise<T>): Promise<T> {
  debug(label);
  return work();
}

export async function run(args: string[]): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const handoffs = numberOption(args, 'handoffs', 30);
  const writes = numberOption(args, 'writes', 1000);
  const familyCount = numberOption(args, 'families', 20);
  const queryDeadlineMs = numberOption(args, 'query-deadline-ms', 2000);
  // Shorter while a reaction is timed: an idle workflow answers in milliseconds, and a lost query should cost little.
  const reactionQueryDeadlineMs = numberOption(args, 'reaction-query-deadline-ms', 250);
  progress.deadline = Date.now() + numberOption(args, 'timeout', 300) * 1000;
  const today = osloDate(Date.now());
  const stack = await startInProcessStack(today, 'bench-handoffs', { realTime: true, follow: true });
  let unanswered = 0;
  try {
    const helsestasjon = await stack.token('helsestasjon');
    const dps = await stack.token('dps');
    const client = stack.env.client;
    /** A query with a deadline: undefined (counted) when the answer does not come. */
    const query = async <R>(workflowId: string, definition: QueryDefinition<R, []>, deadlineMs = queryDeadlineMs): Promise<R | undefined> => {
      try {
        return await client.connection.withDeadline(Date.now() + deadlineMs, () => client.workflow.getHandle(workflowId).query(definition));
      } catch (error) {
        // The client wraps the gRPC error (ServiceError, the status in its cause).
        const status = (error as { code?: number }).code ?? (error as { cause?: { code?: number } }).cause?.code;
        if (status !== 4 /* DEADLINE_EXCEEDED */) throw error;
        unanswered++;
        debug(`query ${definition.name} to ${workflowId} not answered within ${deadlineMs} ms`);
        return undefined;
      }
    };
    const familyAnswers = (familyId: string) => until(`family ${familyId}'s workflow`, () => query(familyWorkflowId(familyId), pathwayStateQuery).catch(() => undefined), 30_000, 10);

    // Reaction time: each referral's Task moved to received by DPS, until the handoff workflow has it.
    progress.phase = 'handoff reaction';
    const latencies: number[] = [];
    for (let i = 0; i < handoffs; i++) {
      const n = `referral ${i + 1}/${handoffs}`;
      const family = await step(`${n}: enrol`, () => stack.enrol(helsestasjon, dueIn150Days()));
      await step(`${n}: family workflow answers`, () => familyAnswers(family.familyId));
      await step(`${n}: EPDS 16 written`, () => stack.call(helsestasjon, 'POST', '/fhir/Observation', epds(family.patient, 16, today)));
      const task = await step(`${n}: referral Task`, () => until('the referral Task', async () => (await stack.store.search('Task', { patient: family.patient, owner: 'Organization/sykehuset-ostfold-dps' })).resources[0] as Task | undefined, 30_000, 10));
      const handoffId = handoffWorkflowId(family.familyId, task.identifier![0].value!.split('/').slice(1).join('/'));
      const answer = await step(`${n}: Task received by DPS`, () => stack.call(dps, 'PUT', `/fhir/Task/${task.id}`, { ...task, status: 'received', lastModified: today }));
      if (answer.status !== 200) throw new Error(`Task update refused: HTTP ${answer.status}`);
      const accepted = performance.now();
      await step(`${n}: handoff workflow shows received`, () => until('the handoff workflow to show received', async () => (await query(handoffId, handoffQuery, reactionQueryDeadlineMs))?.status === 'received'));
      latencies.push(performance.now() - accepted);
      progress.done = `${i + 1} of ${handoffs} referrals`;
      debug(`${n}: ${(performance.now() - accepted).toFixed(0)} ms`);
    }
    const figures = (list: number[]) => {
      list.sort((a, b) => a - b);
      return `p50 ${percentile(list, 50).toFixed(0)} ms, p95 ${percentile(list, 95).toFixed(0)} ms, max ${list[list.length - 1].toFixed(0)} ms`;
    };
    console.log(`handoff reaction (Task write accepted -> handoff workflow state), ${handoffs} referrals one at a time:`);
    console.log(`  ${figures(latencies)} (target p95 <= 200 ms)`);
    console.log(`  queries unanswered (asked again after ${reactionQueryDeadlineMs} ms while timing, ${queryDeadlineMs} ms otherwise): ${unanswered}`);
    const unansweredBefore = unanswered;

    // Throughput: `writes` EPDS results at once over the families, until every one is in its workflow.
    progress.phase = 'event throughput';
    progress.done = 'enrolling the families';
    const families = await step(`enrol ${familyCount} families`, () => Promise.all(Array.from({ length: familyCount }, () => stack.enrol(helsestasjon, dueIn150Days()))));
    await step('their workflows answer', async () => {
      for (const f of families) await familyAnswers(f.familyId);
    });
    /** Screenings in each family's timeline; a family whose query was not answered keeps its last count. */
    let counts: number[] = families.map(() => 0);
    const count = async () => {
      const now = await Promise.all(families.map((f) => query(familyWorkflowId(f.familyId), pathwayStateQuery)));
      counts = now.map((state, i) => (state ? state.timeline.filter((e) => e.what.startsWith('Edinburgh')).length : counts[i]));
      return now.every(Boolean);
    };
    await until('every family to answer', count, 30_000, 10);
    const before = [...counts];
    const started = performance.now();
    let next = 0;
    progress.done = '0 writes';
    await step(`${writes} writes`, () =>
      Promise.all(
        Array.from({ length: Math.min(writes, 200) }, async () => {
          while (next < writes) {
            const i = next++;
            const answer = await stack.call(helsestasjon, 'POST', '/fhir/Observation', epds(families[i % familyCount].patient, 3, today));
            if (answer.status !== 201) throw new Error(`write ${i} refused: HTTP ${answer.status}`);
            progress.done = `${i + 1} of ${writes} writes accepted`;
          }
        }),
      ),
    );
    const written = performance.now();
    const expected = families.map((_, i) => before[i] + Math.floor(writes / familyCount) + (i < writes % familyCount ? 1 : 0));
    const appliedSoFar = () => counts.reduce((a, b) => a + b, 0) - before.reduce((a, b) => a + b, 0);
    let lastReport = 0;
    await step('every event in its workflow', () =>
      until('every event in its workflow', async () => {
        const complete = await count();
        progress.done = `all ${writes} writes accepted, ${appliedSoFar()} in their workflows`;
        if (process.env.BENCH_DEBUG && performance.now() - lastReport > 2000) {
          lastReport = performance.now();
          debug(`${appliedSoFar()} of ${writes} events in their workflows after ${((lastReport - started) / 1000).toFixed(1)} s`);
        }
        return complete && counts.every((c, i) => c >= expected[i]);
      }, 300_000, 50),
    );
    const applied = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await until('every family to answer', count, 30_000, 10);
    const got = counts.reduce((a, b) => a + b, 0) - before.reduce((a, b) => a + b, 0);
    const duplicated = counts.reduce((sum, c, i) => sum + Math.max(0, c - expected[i]), 0);
    const lost = counts.reduce((sum, c, i) => sum + Math.max(0, expected[i] - c), 0);
    console.log(`event throughput: ${writes} Observations sent at once (200 clients) over ${familyCount} families`);
    console.log(`  writes accepted in ${((written - started) / 1000).toFixed(1)} s (${(writes / ((written - started) / 1000)).toFixed(0)}/s); all in their workflows after ${((applied - started) / 1000).toFixed(1)} s (${(writes / ((applied - started) / 1000)).toFixed(0)} events/s)`);
    console.log(`  applied ${got} of ${writes}: lost ${lost}, applied twice ${duplicated}`);
    console.log(`  queries unanswered within ${queryDeadlineMs} ms (asked again): ${unanswered - unansweredBefore}`);
  } catch (error) {
    if (!(error instanceof TimedOut)) throw error;
    console.log(`DID NOT FINISH: ${error.message} (the suite's --timeout, or a step's own limit); got as far as ${progress.phase}: ${progress.done || 'nothing yet'}; ${unanswered} queries unanswered`);
    process.exitCode = 1;
  } finally {
    await stack.close();
  }
}
