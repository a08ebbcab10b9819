/**
 * A family pathway on real components: the embedded Temporal server with
 * time skipping (its clock starting on a chosen day), the real SDK worker
 * and client, and the FHIR store on PGlite. Each test gets its own server,
 * because a time-skipping clock only moves forward.
 */
import { randomUUID } from 'node:crypto';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { DataConverter } from '@temporalio/common';
import type { Communication, CarePlan, Encounter, Resource } from '@medplum/fhirtypes';
import { createPathwayActivities } from '../../activities/pathway-effects';
import { FhirStore, openPglite } from '../../fhir/store';
import { osloDate, type IsoDate } from '../../pathways/calendar';
import { morningOf, sleepUntilDay } from '../support/time';
import { DefinitionRegistry } from '../../pathways/registry';
import { createTestEnvironment, type EmbeddedTestEnvironment } from '../../temporal/embedded/test-env';
import { createForlopWorker } from '../../temporal/worker';
import type { familyPathway, FamilyPathwayInput } from '../../workflows/family-pathway';
import { FAMILY_PATHWAY_WORKFLOW, familyWorkflowId } from '../../workflows/messages';
import { carePlanId } from '../../fhir/builders/pathway';

Runtime.install({ logger: new DefaultLogger('WARN') });

export const registry = DefinitionRegistry.builtIn();
const taskQueue = 'pathway-test';

export interface PathwayHarness {
  env: EmbeddedTestEnvironment;
  store: FhirStore;
  familyId: string;
  handle: WorkflowHandleWithFirstExecutionRunId<typeof familyPathway>;
  /** Today in Oslo, on the server's clock. */
  today(): Promise<IsoDate>;
  /** Let virtual time pass until `date` (mid-morning, Oslo), with every timer on the way firing. */
  sleepUntil(date: IsoDate): Promise<void>;
  carePlan(): Promise<CarePlan>;
  encounters(): Promise<Encounter[]>;
  notices(): Promise<Communication[]>;
  search<T extends Resource>(type: T['resourceType'], params: Record<string, string>): Promise<T[]>;
  /** The history of every run of the family's workflow (continue-as-new makes several), oldest first. */
  histories(): Promise<{ workflowId: string; history: temporal.api.history.v1.IHistory }[]>;
  close(): Promise<void>;
}

export async function startFamily(options: { definition: string; enrolment: IsoDate; dueDate?: IsoDate; birth?: IsoDate; historyLimit?: number; dataConverter?: DataConverter }): Promise<PathwayHarness> {
  const env = await createTestEnvironment({ startTime: morningOf(options.enrolment), ...(options.dataConverter ? { client: { dataConverter: options.dataConverter } } : {}) });
  const store = await FhirStore.open(await openPglite());
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  try {
    worker = await createForlopWorker({ connection: env.nativeConnection, taskQueue, activities: createPathwayActivities({ fhir: store, plans: registry }), dataConverter: options.dataConverter });
    running = worker.run();
  } catch (error) {
    await env.teardown();
    throw error;
  }
  const familyId = randomUUID();
  const input: FamilyPathwayInput = {
    familyId,
    plan: registry.plan(options.definition),
    refs: {
      patient: 'Patient/mother-1',
      child: 'Patient/child-1',
      organization: 'Organization/sarpsborg-kommune',
      coordinator: 'Practitioner/coordinator-1',
      services: { helsestasjon: 'Organization/sarpsborg-helsestasjon', dps: 'Organization/dps-fredrikstad', akutt: 'Organization/sarpsborg-legevakt' },
    },
    anchors: { enrolment: options.enrolment, ...(options.dueDate ? { dueDate: options.dueDate } : {}), ...(options.birth ? { birth: options.birth } : {}) },
    ...(options.historyLimit ? { historyLimit: options.historyLimit } : {}),
  };
  const handle = await env.client.workflow.start<typeof familyPathway>(FAMILY_PATHWAY_WORKFLOW, { taskQueue, workflowId: familyWorkflowId(familyId), args: [input] });
  const search = async <T extends Resource>(type: T['resourceType'], params: Record<string, string>) => (await store.search(type, { _count: '1000', ...params })).resources as T[];
  return {
    env,
    store,
    familyId,
    handle,
    today: async () => osloDate(await env.currentTimeMs()),
    async sleepUntil(date) {
      await sleepUntilDay(env, date);
    },
    carePlan: () => store.read<CarePlan>('CarePlan', carePlanId(familyId)),
    encounters: () => search<Encounter>('Encounter', { subject: 'Patient/mother-1' }).then(async (m) => [...m, ...(await search<Encounter>('Encounter', { subject: 'Patient/child-1' }))]),
    notices: () => search<Communication>('Communication', { subject: 'Patient/mother-1' }),
    search,
    async histories() {
      const runs: { runId: string; startTime: Date }[] = [];
      for await (const run of env.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) runs.push({ runId: run.runId, startTime: run.startTime });
      runs.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
      return Promise.all(runs.map(async (r) => ({ workflowId: handle.workflowId, history: await env.client.workflow.getHandle(handle.workflowId, r.runId).fetchHistory() })));
    },
    async close() {
      worker?.shutdown();
      await running;
      await env.teardown();
      await store.close();
    },
  };
}

/** The CarePlan activity of a step, by the step key recorded in its progress note. */
export function activityOf(carePlan: CarePlan, key: string) {
  return carePlan.activity?.find((a) => a.progress?.[0]?.text?.startsWith(`Step ${key};`) || a.progress?.[0]?.text === `Step ${key}`);
}
