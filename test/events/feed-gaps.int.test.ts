/**
 * Holes in the change feed (issue #21, item 1; docs/events.md "Exactly once,
 * in order, nothing lost"). A change's number is taken when it is written and
 * becomes visible when its transaction commits:
 *  - on a PostgreSQL server with concurrent writers, a lower number can commit
 *    after higher ones were read; the router waits for the hole and delivers
 *    the change when it appears, instead of passing over it (FORLOP_TEST_ROUTER_DATABASE_URL,
 *    a database of its own, as the store's tests drop the schema in theirs);
 *  - a write that rolls back leaves a hole for ever: the router delivers what
 *    follows it at once, and moves its checkpoint over the hole once it has
 *    waited gapTimeoutMs.
 * Real components: the embedded Temporal server and SDK client (enrolments
 * start workflows; no worker is needed to see that they started), the store.
 */
import pg from 'pg';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { EpisodeOfCare } from '@medplum/fhirtypes';
import { FailedEvents } from '../../events/failed-events';
import { DUE_DATE_EXTENSION, PATHWAY_TYPE_SYSTEM } from '../../events/map-resource';
import { EventRouter, familyIdOf } from '../../events/router';
import { FhirStore, openPglite, openPostgres, type Db } from '../../fhir/store';
import { DefinitionRegistry } from '../../pathways/registry';
import { createTestEnvironment, type EmbeddedTestEnvironment } from '../../temporal/embedded/test-env';
import { familyWorkflowId } from '../../workflows/messages';
import { morningOf } from '../support/time';

Runtime.install({ logger: new DefaultLogger('WARN') });
jest.setTimeout(120_000);

const registry = DefinitionRegistry.builtIn();
let env: EmbeddedTestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment({ startTime: morningOf('2026-11-03') });
});
afterAll(() => env.teardown());

const enrolment = (n: number, id?: string): EpisodeOfCare => ({
  resourceType: 'EpisodeOfCare',
  ...(id ? { id, meta: { versionId: '1', lastUpdated: new Date().toISOString() } } : {}),
  status: 'active',
  type: [{ coding: [{ system: PATHWAY_TYPE_SYSTEM, code: 'Basisprogram' }] }],
  patient: { reference: `Patient/mother-${n}` },
  managingOrganization: { reference: 'Organization/sarpsborg-kommune' },
  period: { start: '2026-11-03' },
  extension: [{ url: DUE_DATE_EXTENSION, valueDate: '2027-06-01' }],
});

/** Whether the family of this EpisodeOfCare has a workflow (was enrolled). */
const enrolled = async (episodeId: string) =>
  env.client.workflow
    .getHandle(familyWorkflowId(familyIdOf(episodeId)))
    .describe()
    .then(
      () => true,
      () => false,
    );

const lastSeq = async (store: FhirStore) => (await store.changesAfter(0, 100_000)).at(-1)!.seq;

const routerUrl = process.env.FORLOP_TEST_ROUTER_DATABASE_URL;
if (routerUrl) {
  it('on a PostgreSQL server, delivers a change that commits after higher-numbered changes of concurrent writers were read', async () => {
    const db = await openPostgres(routerUrl);
    await db.query('DROP SCHEMA IF EXISTS fhir CASCADE');
    const store = await FhirStore.open(db);
    const router = new EventRouter({ store, failed: new FailedEvents(db), client: env.client, taskQueue: 'feed-gaps-pg', plans: registry, today: () => '2026-11-03' });
    const slow = new pg.Client({ connectionString: routerUrl });
    await slow.connect();
    try {
      // A writer whose transaction takes its change number first and commits last (as a slow
      // transaction Bundle does): the version and its change row, as the store writes them.
      const late = enrolment(0, 'late-episode');
      await slow.query('BEGIN');
      await slow.query('INSERT INTO fhir.resource (resource_type, id, version_id, last_updated, deleted, content) VALUES ($1, $2, 1, now(), false, $3)', ['EpisodeOfCare', late.id, JSON.stringify(late)]);
      const { rows } = await slow.query<{ seq: string }>(`INSERT INTO fhir.change (resource_type, id, version_id) VALUES ('EpisodeOfCare', $1, 1) RETURNING seq`, [late.id]);
      // Ten writers at once, all numbered after it, all committed.
      const others = await Promise.all(Array.from({ length: 10 }, (_, i) => store.create(enrolment(i + 1))));
      expect(Math.min(...(await store.changesAfter(0, 1000)).map((c) => c.seq))).toBeGreaterThan(Number(rows[0].seq));
      await router.runUntilCaughtUp();
      for (const e of others) expect(await enrolled(e.id!)).toBe(true);
      expect(await enrolled(late.id!)).toBe(false);
      // Its checkpoint waits below the hole, so a restarted router would look again too.
      expect(await store.checkpoint('pathway-router')).toBeLessThan(Number(rows[0].seq));

      await slow.query('COMMIT');
      await router.runUntilCaughtUp();
      expect(await enrolled(late.id!)).toBe(true);
      expect(await store.checkpoint('pathway-router')).toBe(await lastSeq(store));
    } finally {
      await slow.end().catch(() => undefined);
      await store.close();
    }
  });
}

it('on PGlite, delivers what follows a rolled-back write at once and moves the checkpoint over its hole after waiting for it', async () => {
  const db: Db = await openPglite();
  const store = await FhirStore.open(db);
  let now = Date.now();
  const router = new EventRouter({ store, failed: new FailedEvents(db), client: env.client, taskQueue: 'feed-gaps-pglite', plans: registry, today: () => '2026-11-03', gapTimeoutMs: 5_000, now: () => now });
  const first = await store.create(enrolment(1));
  // A write that rolls back after taking its change number.
  await expect(
    db.transaction(async (tx) => {
      await tx.query(`INSERT INTO fhir.change (resource_type, id, version_id) VALUES ('EpisodeOfCare', 'never', 1)`);
      throw new Error('rolled back');
    }),
  ).rejects.toThrow('rolled back');
  const second = await store.create(enrolment(2));
  await router.runUntilCaughtUp();
  expect(await enrolled(first.id!)).toBe(true);
  expect(await enrolled(second.id!)).toBe(true);
  const beforeHole = await store.checkpoint('pathway-router');
  expect(beforeHole).toBeLessThan(await lastSeq(store));

  now += 6_000;
  await router.runOnce();
  expect(await store.checkpoint('pathway-router')).toBe(await lastSeq(store));
  await store.close();
});
