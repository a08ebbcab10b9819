/**
 * FHIR figures (`npm run bench -- fhir [--quick]`), side by side in one run:
 *  - single creates/s through the HTTP API (validation, versioning, search
 *    indexes, no auth) vs raw PGlite inserts/s of the same rows;
 *  - single Observation creates/s through `forlop start` (a real process:
 *    auth, audit, event router, worker) beside the same through the bare API;
 *  - 100-entry transaction Bundles through the API: resources/s;
 *  - search by subject: p50/p95 with N stored resources (default 100,000;
 *    --quick 10,000), each family having a handful of Tasks.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Bundle, Task } from '@medplum/fhirtypes';
import { PGlite } from '@electric-sql/pglite';
import { FhirStore, openPglite } from '../fhir/store';
import { indexRows } from '../fhir/store/indexing';
import { migrate } from '../fhir/store/migrations';
import { createApp } from '../server/app';
import { createsThroughStart, measureCreates, observation } from './through-start';

const task = (patient: string): Task => ({
  resourceType: 'Task',
  status: 'requested',
  intent: 'order',
  for: { reference: `Patient/${patient}` },
  requester: { reference: 'Organization/helsestasjon' },
  owner: { reference: 'Organization/familieambulatorium' },
  authoredOn: '2026-03-30T09:00:00Z',
});

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

export async function run(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const singles = quick ? 300 : 1000;
  const stored = quick ? 10_000 : 100_000;

  // Raw inserts of the same rows the store writes for a create (the resource
  // row, its history row, and its search index rows), one plain INSERT each,
  // in the store's own schema: the storage work without HTTP, validation or
  // versioning logic. Also shown: one JSON row into a bare table.
  const rawDb = await openPglite();
  await migrate(rawDb);
  let t0 = performance.now();
  for (let i = 0; i < singles; i++) {
    const resource = { ...task('p'), id: `t${i}`, meta: { versionId: '1', lastUpdated: new Date().toISOString() } };
    const row = ['Task', resource.id, 1, resource.meta.lastUpdated, false, resource];
    await rawDb.query('INSERT INTO fhir.resource (resource_type, id, version_id, last_updated, deleted, content) VALUES ($1, $2, $3, $4, $5, $6)', row);
    const rows = indexRows(resource);
    for (const t of rows.tokens) await rawDb.query('INSERT INTO fhir.token_index VALUES ($1, $2, $3, $4, $5)', ['Task', resource.id, t.param, t.system, t.code]);
    for (const r of rows.references) await rawDb.query('INSERT INTO fhir.reference_index VALUES ($1, $2, $3, $4)', ['Task', resource.id, r.param, r.target]);
    for (const d of rows.dates) await rawDb.query('INSERT INTO fhir.date_index VALUES ($1, $2, $3, $4, $5)', ['Task', resource.id, d.param, d.low, d.high]);
  }
  const rawPerSecond = singles / ((performance.now() - t0) / 1000);
  await rawDb.close();
  const bare = await PGlite.create();
  await bare.query('CREATE TABLE r (id text PRIMARY KEY, content json)');
  t0 = performance.now();
  for (let i = 0; i < singles; i++) await bare.query('INSERT INTO r VALUES ($1, $2)', [`t${i}`, { ...task('p'), id: `t${i}` }]);
  const barePerSecond = singles / ((performance.now() - t0) / 1000);
  await bare.close();

  const store = await FhirStore.open(await openPglite());
  const server: Server = createApp({ store }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
  const post = (path: string, body: unknown) => fetch(`${base}/${path}`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });

  const createOne = async () => {
    const r = await post('Task', task('p'));
    if (r.status !== 201) throw new Error(`create failed: ${r.status}`);
    await r.arrayBuffer();
  };
  for (let i = 0; i < 20; i++) await createOne(); // warm up: schemas compiled, StructureDefinitions indexed
  t0 = performance.now();
  for (let i = 0; i < singles; i++) await createOne();
  const apiPerSecond = singles / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => { while (next++ < singles) await createOne(); }));
  const concurrentPerSecond = singles / ((performance.now() - t0) / 1000);
  const bareObservations = await measureCreates(singles, async () => {
    const r = await post('Observation', observation('p'));
    if (r.status !== 201) throw new Error(`create failed: ${r.status}`);
    await r.arrayBuffer();
  });
  const started = await createsThroughStart(singles);
  console.log(
    `single Observation creates/s, API only: ${bareObservations.one.toFixed(0)} one at a time, ${bareObservations.sixteen.toFixed(0)} with 16 clients; ` +
      `through forlop start (auth, audit, event router, worker): ${started.one.toFixed(0)} and ${started.sixteen.toFixed(0)} -> ${(started.one / bareObservations.one).toFixed(2)}x and ${(started.sixteen / bareObservations.sixteen).toFixed(2)}x  (target >= 0.5x)`,
  );
  console.log(`single creates/s through the API: ${apiPerSecond.toFixed(0)} one at a time, ${concurrentPerSecond.toFixed(0)} with 16 clients; raw PGlite inserts of the same rows (resource, history, index rows) ${rawPerSecond.toFixed(0)} creates/s -> ${(concurrentPerSecond / rawPerSecond).toFixed(2)}x  (target >= 0.5x); one JSON row into a bare table: ${barePerSecond.toFixed(0)}/s`);

  // Transactions of 100 entries; also fills the store for the search figures.
  const families = stored / 5;
  t0 = performance.now();
  let written = 0;
  for (let f = 0; written < stored; f += 20) {
    const entry: Bundle['entry'] = [];
    for (let k = 0; k < 100; k++) entry.push({ resource: task(`family-${(f + Math.floor(k / 5)) % families}`), request: { method: 'POST', url: 'Task' } });
    const r = await post('', { resourceType: 'Bundle', type: 'transaction', entry });
    if (r.status !== 200) throw new Error(`transaction failed: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
    written += 100;
  }
  const txSeconds = (performance.now() - t0) / 1000;
  console.log(`100-entry transactions: ${(written / txSeconds).toFixed(0)} resources/s (${written} resources in ${txSeconds.toFixed(1)} s)  (target >= 2,000)`);

  const times: number[] = [];
  for (let i = 0; i < 500; i++) {
    const subject = `Patient/family-${Math.floor(Math.random() * families)}`;
    const s = performance.now();
    const r = await fetch(`${base}/Task?subject=${encodeURIComponent(subject)}`);
    const bundle = (await r.json()) as Bundle;
    times.push(performance.now() - s);
    if (!bundle.entry?.length) throw new Error(`no tasks for ${subject}`);
  }
  times.sort((a, b) => a - b);
  console.log(`search Task?subject= with ${written + singles} stored: p50 ${percentile(times, 50).toFixed(1)} ms, p95 ${percentile(times, 95).toFixed(1)} ms  (target p95 <= 20 ms)`);
  await new Promise((r) => server.close(r));
  await store.close();
}
