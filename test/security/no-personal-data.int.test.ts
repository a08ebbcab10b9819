/**
 * A family with a real fødselsnummer and name runs through its pathway (enrolled,
 * contacts, a screening, the birth, months passing) via FHIR writes, the event
 * router and the worker with the payload codec. Then every stored workflow
 * history (raw, and decrypted with the key), every search attribute, workflow
 * id and log line produced is scanned for the mother's and the baby's
 * fødselsnummer and names: zero hits. The same histories decrypt with the key
 * and replay.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { DefaultLogger, Runtime, Worker, type LogEntry } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import type { EpisodeOfCare, Patient } from '@medplum/fhirtypes';
import { createPathwayActivities } from '../../activities/pathway-effects';
import { createLogger } from '../../app/logging';
import { DUE_DATE_EXTENSION, INSTRUMENT_ITEM_SYSTEM, PATHWAY_TYPE_SYSTEM } from '../../events/map-resource';
import { FailedEvents } from '../../events/failed-events';
import { EventRouter } from '../../events/router';
import { SYSTEMS } from '../../fhir/norwegian-identifiers';
import { FhirStore, openPglite } from '../../fhir/store';
import { morningOf, sleepUntilDay } from '../support/time';
import { DefinitionRegistry } from '../../pathways/registry';
import { createDataConverter } from '../../temporal/codec';
import { createTestEnvironment } from '../../temporal/embedded/test-env';
import { createForlopWorker, workflowBundle } from '../../temporal/worker';

const workerLogs: LogEntry[] = [];
Runtime.install({ logger: new DefaultLogger('DEBUG', (entry) => workerLogs.push(entry)) });
jest.setTimeout(120_000);

const MOTHER = { fnr: '01019000083', given: 'Kari', family: 'Nordmann-Testesen' };
const BABY = { fnr: '41019000077', given: 'Sunniva' };

it('leaves no fødselsnummer or name in workflow histories, ids, search attributes or logs', async () => {
  const dataConverter = createDataConverter({ keys: { k1: randomBytes(32).toString('base64') }, currentKeyId: 'k1' });
  const env = await createTestEnvironment({ startTime: morningOf('2026-11-03'), client: { dataConverter } });
  const db = await openPglite();
  const store = await FhirStore.open(db);
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', destination: new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }) });
  const registry = DefinitionRegistry.builtIn();
  let today = '2026-11-03';
  const router = new EventRouter({ store, failed: new FailedEvents(db), client: env.client, taskQueue: 'pii', plans: registry, today: () => today, log: (msg, fields) => log.info(fields ?? {}, msg) });
  const worker = await createForlopWorker({ connection: env.nativeConnection, taskQueue: 'pii', activities: createPathwayActivities({ fhir: store, plans: registry }), dataConverter });
  const sleepUntil = async (date: string) => {
    today = await sleepUntilDay(env, date);
  };
  const route = () => router.runUntilCaughtUp();
  try {
    await worker.runUntil(async () => {
      const mother = await store.create<Patient>({ resourceType: 'Patient', identifier: [{ system: SYSTEMS.fnr, value: MOTHER.fnr }], name: [{ given: [MOTHER.given], family: MOTHER.family }], managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } });
      await store.create<EpisodeOfCare>({
        resourceType: 'EpisodeOfCare',
        status: 'active',
        type: [{ coding: [{ system: PATHWAY_TYPE_SYSTEM, code: 'Basisprogram' }] }],
        patient: { reference: `Patient/${mother.id}`, display: `${MOTHER.given} ${MOTHER.family}` },
        managingOrganization: { reference: 'Organization/sarpsborg-kommune' },
        period: { start: '2026-11-03' },
        extension: [{ url: DUE_DATE_EXTENSION, valueDate: '2027-06-01' }],
      });
      await route();
      await sleepUntil('2026-11-10');
      await store.create({ resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, type: [{ coding: [{ system: 'https://forlop.no/fhir/CodeSystem/pathway-activity', code: 'pregnancy-consultation' }] }], subject: { reference: `Patient/${mother.id}`, display: MOTHER.given }, period: { start: '2026-11-10' } } as never);
      await store.create({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '99046-5' }] }, subject: { reference: `Patient/${mother.id}` }, effectiveDateTime: '2026-11-10', valueInteger: 11, component: [{ code: { coding: [{ system: INSTRUMENT_ITEM_SYSTEM, code: '10' }] }, valueInteger: 0 }] } as never);
      await route();
      await sleepUntil('2027-05-28');
      await store.create<Patient>({ resourceType: 'Patient', identifier: [{ system: SYSTEMS.dnr, value: BABY.fnr }], name: [{ given: [BABY.given], family: MOTHER.family }], birthDate: '2027-05-28', link: [{ other: { reference: `Patient/${mother.id}` }, type: 'seealso' }] });
      await route();
      await sleepUntil('2027-09-01');
    });

    // Everything Temporal stored, as its database holds it (no key).
    const raw = await Connection.connect({ address: env.embedded.address });
    const rawClient = new Client({ connection: raw });
    const stored: string[] = [];
    const histories: { workflowId: string; history: Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>> }[] = [];
    for await (const execution of rawClient.workflow.list()) {
      stored.push(execution.workflowId, JSON.stringify(execution.searchAttributes), JSON.stringify(execution.memo ?? {}));
      const history = await rawClient.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      stored.push(JSON.stringify(history, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v)));
      histories.push({ workflowId: execution.workflowId, history });
    }
    await raw.close();
    expect(histories.length).toBeGreaterThanOrEqual(2); // pregnancy, then postnatal and on
    // Decrypted with the key, too: the workflow never received them at all.
    const payloads: Payload[] = [];
    const collect = (value: unknown): void => {
      if (!value || typeof value !== 'object' || value instanceof Uint8Array) return;
      const v = value as Payload;
      if (v.metadata && 'encoding' in v.metadata && v.data) payloads.push(v);
      else for (const child of Object.values(value)) collect(child);
    };
    for (const { history } of histories) collect(history);
    const decoded = await dataConverter.payloadCodecs![0].decode(payloads);
    expect(decoded.length).toBeGreaterThan(20);
    const plain = decoded.map((p) => Buffer.from(p.data ?? []).toString('utf8'));
    expect(plain.some((text) => text.includes('Basisprogram') || text.includes('PlanDefinition/basis'))).toBe(true); // really decrypted
    stored.push(...plain);
    const logs = [...lines, ...workerLogs.map((e) => `${e.message} ${JSON.stringify(e.meta ?? {})}`)].join('\n');
    for (const secret of [MOTHER.fnr, MOTHER.given, MOTHER.family, BABY.fnr, BABY.given]) {
      // On a hit, show where: the text around it in whatever was stored.
      const hits = stored.filter((s) => s.includes(secret)).map((s) => s.slice(Math.max(0, s.indexOf(secret) - 300), s.indexOf(secret) + 100));
      expect([secret, hits]).toEqual([secret, []]);
      expect([secret, logs.includes(secret)]).toEqual([secret, false]);
    }
    // The same histories decrypt with the key and replay against the workflow code.
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle({ failureConverterPath: dataConverter.failureConverterPath }), dataConverter, replayName: 'pii' }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(lines.some((l) => l.includes('family enrolled'))).toBe(true);
  } finally {
    await env.teardown();
    await store.close();
  }
});
