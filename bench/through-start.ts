/**
 * Single Observation creates through `forlop start` as a user runs it (a
 * real process: auth with the dev IdP, audit, organisation access, the
 * event router and the pathway worker in the same process), beside the
 * same creates through the bare API (no auth, no audit, nothing following
 * the change feed), for `npm run bench -- fhir`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Observation } from '@medplum/fhirtypes';
import { enrolThroughApi, freePort, helsestasjonHeaders, spawnForlop, until } from '../test/support/processes';

export const observation = (patientId: string): Observation => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '29463-7', display: 'Body weight' }] },
  subject: { reference: `Patient/${patientId}` },
  performer: [{ reference: 'Organization/sarpsborg-helsestasjon' }],
  effectiveDateTime: '2026-03-30T09:00:00Z',
  valueQuantity: { value: 3.4, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
});

/** Creates/s one at a time and with 16 clients, `count` each, by `createOne`. */
export async function measureCreates(count: number, createOne: () => Promise<void>): Promise<{ one: number; sixteen: number }> {
  for (let i = 0; i < 20; i++) await createOne(); // warm up
  let t0 = performance.now();
  for (let i = 0; i < count; i++) await createOne();
  const one = count / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => { while (next++ < count) await createOne(); }));
  return { one, sixteen: count / ((performance.now() - t0) / 1000) };
}

/** The figures through a `forlop start` process of its own (its own data directory and ports). */
export async function createsThroughStart(count: number): Promise<{ one: number; sixteen: number }> {
  const [httpPort, temporalPort] = [await freePort(), await freePort()];
  const start = spawnForlop(['start'], { FORLOP_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'forlop-bench-')), FORLOP_HTTP_PORT: String(httpPort), FORLOP_EMBEDDED_TEMPORAL_PORT: String(temporalPort) });
  try {
    await until(() => start.output().includes('pathway worker running'), 'forlop start', 100, 120_000);
    const api = `http://127.0.0.1:${httpPort}/fhir`;
    const headers = await helsestasjonHeaders(start.output(), 'system/Patient.cruds system/EpisodeOfCare.cruds system/Observation.cruds');
    // An enrolled family: the creates are about a mother whose pathway runs, as in use.
    const { motherId } = await enrolThroughApi(api, headers);
    const body = JSON.stringify(observation(motherId));
    return await measureCreates(count, async () => {
      const r = await fetch(`${api}/Observation`, { method: 'POST', headers, body });
      if (r.status !== 201) throw new Error(`create through forlop start failed: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    });
  } finally {
    start.child.kill('SIGTERM');
    await start.exited;
  }
}
