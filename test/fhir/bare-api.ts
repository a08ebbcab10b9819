/**
 * The FHIR REST API alone (no auth, no access checks) over PGlite, listening
 * on a free loopback port for the file's tests: `api.store` and `api.base`
 * are set once beforeAll has run.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createApp } from '../../server/app';
import { FhirStore, openPglite } from '../../fhir/store';

export function bareApi(): { store: FhirStore; base: string } {
  const api = {} as { store: FhirStore; base: string; server: Server };
  beforeAll(async () => {
    api.store = await FhirStore.open(await openPglite());
    api.server = createApp({ store: api.store }).listen(0, '127.0.0.1');
    await new Promise((r) => api.server.once('listening', r));
    api.base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}/fhir`;
  });
  afterAll(async () => {
    await new Promise((r) => api.server.close(r));
    await api.store.close();
  });
  return api;
}
