/**
 * Cost of authentication and audit per request (issue #6: auth + audit
 * together should cost <= 30% of requests/s). Same tiny FHIR-shaped handler,
 * six stacks: none; Bearer JWT auth + scope; + auditTrail (in-memory write,
 * so the figure is the middleware's own cost, not the store's); DPoP-bound
 * token with a proof per request + audit, with an EC key (ES256) and with an
 * RSA key as HelseID clients have (PS256); and, as the floor under the DPoP
 * figure, audit + Bearer + only the proof's ES256 signature check (the one
 * step RFC 9449 cannot skip, done as our DPoP check does it). Tokens come from
 * the real dev IdP; DPoP proofs are made before timing so client-side
 * signing is not counted, and the load generator runs on a thread of its own
 * (http-load-worker.mjs), so its fetch calls are not counted on the server's.
 *
 * Many short rounds, each running every stack back to back; a stack's cost is
 * the median of its costs against the baseline of the same round.
 * Options: --requests=N per round (default 500), --rounds=R (default 40),
 * --concurrency=C (default 16).
 *
 * Then the same through the whole API (throughTheApi below) for two reads, a
 * search and a create, where the audit trail and organisation-level access
 * cost FHIR store work: the figure a client of Forløp sees. On PGlite in a
 * temporary data directory, and on a PostgreSQL server when
 * FORLOP_BENCH_DATABASE_URL (or FORLOP_TEST_DATABASE_URL) names a database
 * whose schema fhir may be dropped.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type RequestListener } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CarePlan, Observation, Patient, Task } from '@medplum/fhirtypes';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import type { JWK } from 'jose';
import { DEV_API_AUDIENCE, startDevIdp, type DevIdp } from '../app/dev-idp';
import { buildHttpApp } from '../app/http';
import { FhirStore, openPglite, openPostgres, type Db } from '../fhir/store';
import { createApp } from '../server/app';
import { auditTrail } from '../server/audit';
import { authenticate, requireScope } from '../server/auth';
import { importPublicKey, verifyJwsPayload } from '../server/auth/jws-signature';
import { getToken, makeProof, newDpopKey, type DpopKey } from '../test/security/dpop-client';
import { benchDatabaseHint, benchDatabaseUrl, numberOption } from './options';

interface Stack {
  name: string;
  middleware: RequestHandler[];
  headers: (i: number, url: string) => Record<string, string>;
}

async function serve(middleware: RequestHandler[]): Promise<Listening> {
  const app = express();
  app.use(...(middleware.length > 0 ? middleware : [(_req, _res, next) => next()] as RequestHandler[]));
  app.get('/fhir/Task/:id', (req, res) => {
    res.json({ resourceType: 'Task', id: req.params.id, status: 'requested', intent: 'order' });
  });
  const server = await listenLater();
  server.use(app);
  return server;
}

/** A request the load sends: GET by default; a body is sent as FHIR JSON. */
interface Call {
  path: (i: number) => string;
  method?: 'GET' | 'POST';
  body?: (i: number) => unknown;
}

/** The load generator's thread (http-load-worker.mjs): one for the whole bench, started on first use. */
let loadWorker: Worker | undefined;

/**
 * Sends `requests` requests, `concurrency` at a time, from the load generator's thread; returns
 * requests per second. The requests (headers with a DPoP proof each) are made before the run.
 */
async function load(url: string, requests: number, concurrency: number, headers: Stack['headers'], call: Call = { path: (i) => `/fhir/Task/${i % 50}` }): Promise<number> {
  const method = call.method ?? 'GET';
  const list = Array.from({ length: requests }, (_, i) => {
    const target = `${url}${call.path(i)}`;
    const body = call.body ? JSON.stringify(call.body(i)) : undefined;
    return { url: target, method, body, headers: { ...headers(i, target.split('?')[0]), ...(body ? { 'content-type': 'application/fhir+json' } : {}) }, status: method === 'POST' ? 201 : 200 };
  });
  const worker = (loadWorker ??= new Worker(path.join(__dirname, 'http-load-worker.mjs')));
  const { seconds, failures } = await new Promise<{ seconds: number; failures: number }>((resolve, reject) => {
    const done = (result: { seconds: number; failures: number }) => {
      worker.off('error', failed);
      resolve(result);
    };
    const failed = (error: Error) => {
      worker.off('message', done);
      reject(error);
    };
    worker.once('message', done).once('error', failed).postMessage({ requests: list, concurrency });
  });
  if (failures > 0) throw new Error(`${failures} of ${requests} requests failed; the figures would be meaningless.`);
  return requests / seconds;
}

function proofSignatureOnly(jwk: JWK): RequestHandler {
  const publicKey = importPublicKey(jwk, 'ES256');
  return (req, res, next) => {
    verifyJwsPayload(String(req.headers.dpop).split('.') as [string, string, string], publicKey, 'ES256').then(
      () => next(),
      () => res.status(401).end(),
    );
  };
}

export async function run(args: string[]): Promise<void> {
  const requests = numberOption(args, 'requests', 500);
  const concurrency = numberOption(args, 'concurrency', 16);
  const rounds = numberOption(args, 'rounds', 40);
  const idp: DevIdp = await startDevIdp({ accessTokenTtlSeconds: 3600 });
  try {
    const authOptions = { issuer: idp.issuer, audience: DEV_API_AUDIENCE, jwks: { uri: idp.jwksUri }, organisations: idp.organisations };
    // Every token both parts use, now: asking the IdP again after minutes of load meets a reset keep-alive socket.
    const scopes = 'system/Task.rs system/Observation.crs';
    const key = await newDpopKey();
    // An RSA key as well, the kind a HelseID client has, signing with PS256 (FAPI 2.0's RSA algorithm).
    const rsaKey = await newDpopKey('PS256');
    const tokens: Tokens = {
      bearer: await getToken(idp, 'helsestasjon', scopes),
      dpopToken: await getToken(idp, 'helsestasjon', scopes, { dpop: key }),
      key,
      rsaDpopToken: await getToken(idp, 'helsestasjon', scopes, { dpop: rsaKey }),
      rsaKey,
    };
    const { bearer, dpopToken, rsaDpopToken } = tokens;
    const audited: unknown[] = [];
    const write = async (event: unknown) => {
      audited.push(event);
      if (audited.length > 1000) audited.length = 0;
    };

    let proofs: string[] = [];
    let used = 0;
    let rsaProofs: string[] = [];
    let rsaUsed = 0;
    const stacks: Stack[] = [
      { name: 'no auth, no audit', middleware: [], headers: () => ({}) },
      { name: 'Bearer JWT + scope', middleware: [authenticate(authOptions), requireScope('Task', 'read')], headers: () => ({ authorization: `Bearer ${bearer}` }) },
      {
        name: 'audit + Bearer JWT + scope',
        middleware: [auditTrail({ write }), authenticate(authOptions), requireScope('Task', 'read')],
        headers: () => ({ authorization: `Bearer ${bearer}` }),
      },
      {
        // A fresh proof per request (the jti replay cache refuses reuse), made before timing.
        name: 'audit + DPoP JWT (ES256 proof) + scope',
        middleware: [auditTrail({ write }), authenticate({ ...authOptions, dpop: { required: true } }), requireScope('Task', 'read')],
        headers: () => ({ authorization: `DPoP ${dpopToken}`, dpop: proofs[used++] }),
      },
      {
        name: 'audit + DPoP JWT (PS256 proof) + scope',
        middleware: [auditTrail({ write }), authenticate({ ...authOptions, dpop: { required: true } }), requireScope('Task', 'read')],
        headers: () => ({ authorization: `DPoP ${rsaDpopToken}`, dpop: rsaProofs[rsaUsed++] }),
      },
      {
        // Only the proof's signature, with its key imported once: what any DPoP check must spend per request.
        name: 'floor: audit + Bearer + ES256',
        middleware: [auditTrail({ write }), authenticate(authOptions), requireScope('Task', 'read'), proofSignatureOnly(key.publicJwk)],
        headers: () => ({ authorization: `Bearer ${bearer}`, dpop: proofs[used++] }),
      },
    ];
    const servers = await Promise.all(stacks.map((stack) => serve(stack.middleware)));
    const makeProofs = (signer: DpopKey, token: string, url: string, count: number) =>
      Promise.all(Array.from({ length: count }, (_, i) => makeProof(signer, { htm: 'GET', htu: `${url}/fhir/Task/${i % 50}`, accessToken: token })));

    // Warm up every stack (JIT, JWKS fetch, key import), then interleave rounds and take the median,
    // so that machine noise and warm-up order do not favour one stack.
    const warmUp = Math.min(1000, requests);
    // All proofs up front (two stacks use them): signing thousands with WebCrypto right before a timed run would slow that run.
    proofs = await makeProofs(key, dpopToken, servers[3].url, 2 * (warmUp + rounds * requests));
    rsaProofs = await makeProofs(rsaKey, rsaDpopToken, servers[4].url, warmUp + rounds * requests);
    for (const [i, stack] of stacks.entries()) await load(servers[i].url, warmUp, concurrency, stack.headers);
    const samples = await interleave(stacks.map((stack, i) => ({ url: servers[i].url, headers: stack.headers })), rounds, requests, concurrency);
    for (const server of servers) server.close();
    console.log(`The middleware alone (a handler that reads nothing): requests=${requests} x ${rounds} rounds; concurrency=${concurrency}; client on a thread of its own`);
    report(stacks.map((s) => s.name), samples);
    // On disk, as `forlop start` keeps it (config.database.dataDir), not in memory: writes cost differently there.
    const dataDir = await mkdtemp(path.join(tmpdir(), 'forlop-bench-'));
    try {
      await throughTheApi(idp, tokens, args, concurrency, 'PGlite in a data directory', await openPglite(dataDir));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
    // Production runs on a PostgreSQL server: there the store's statements run in its processes.
    const url = benchDatabaseUrl();
    if (url) {
      const db = await openPostgres(url);
      await db.query('DROP SCHEMA IF EXISTS fhir CASCADE');
      await throughTheApi(idp, tokens, args, concurrency, `a PostgreSQL server (${new URL(url).host})`, db);
    } else {
      console.log(`\nOn a PostgreSQL server: not measured; ${benchDatabaseHint('fhir')}`);
    }
  } finally {
    await loadWorker?.terminate();
    await idp.stop();
  }
}

/** Each round runs every target back to back; returns req/s per target per round. */
async function interleave(targets: { url: string; headers: Stack['headers']; call?: Call }[], rounds: number, requests: number, concurrency: number): Promise<number[][]> {
  const samples: number[][] = targets.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, t] of targets.entries()) samples[i].push(await load(t.url, requests, concurrency, t.headers, t.call));
  }
  return samples;
}

/**
 * A stack's cost is taken against the baseline (the first) of its own round: the machine's speed drifts
 * over a run (by tens of percent here), and pairing cancels the drift.
 */
function report(names: string[], samples: number[][]): void {
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const width = Math.max(30, ...names.map((n) => n.length));
  console.log(`${''.padEnd(width)} ${'req/s'.padStart(7)}   cost vs the first (median of the rounds' paired costs, and their range)`);
  for (const [i, name] of names.entries()) {
    const costs = samples[i].map((rps, round) => (1 - rps / samples[0][round]) * 100);
    const figure = i === 0 ? '-' : `${median(costs).toFixed(1)}% (${Math.min(...costs).toFixed(1)} to ${Math.max(...costs).toFixed(1)})`;
    console.log(`${name.padEnd(width)} ${median(samples[i]).toFixed(0).padStart(7)}   ${figure}`);
  }
}

/**
 * The same costs through the whole API as `forlop start` composes it (app/http.ts): the FHIR store
 * (PGlite in a data directory, as `forlop start` keeps it, or a PostgreSQL server), AuditEvents
 * stored in it, organisation-level access checked against it. Four interactions, from the lightest:
 * - a read by id of a Task whose requester is the caller (allowed from the Task itself);
 * - a read by id of an Observation naming no organisation (allowed through the family, so the
 *   family's membership is looked up);
 * - a search for the caller's Tasks, ten a page (each one checked, all named in the AuditEvent);
 * - a create of an Observation in a family the caller takes part in (validated, the family looked
 *   up uncached, as every write does).
 * Options: --api-requests=N per round (default 300), --api-rounds=R (default 20: single rounds swing widely, and the median of 10 moved by a few points from run to run).
 */
async function throughTheApi(idp: DevIdp, tokens: Tokens, args: string[], concurrency: number, where: string, db: Db): Promise<void> {
  const { bearer, dpopToken, key, rsaDpopToken, rsaKey } = tokens;
  const requests = numberOption(args, 'api-requests', 300);
  const rounds = numberOption(args, 'api-rounds', 20);
  const store = await FhirStore.open(db);
  const here = 'Organization/sarpsborg-helsestasjon';
  const tasks: string[] = [];
  const observations: string[] = [];
  const patients: string[] = [];
  for (let i = 0; i < 50; i++) {
    const patient = await store.create<Patient>({ resourceType: 'Patient', managingOrganization: { reference: here } });
    const subject = { reference: `Patient/${patient.id}` };
    patients.push(subject.reference);
    await store.create<CarePlan>({ resourceType: 'CarePlan', status: 'active', intent: 'plan', subject, author: { reference: here } });
    observations.push((await store.create<Observation>({ resourceType: 'Observation', status: 'final', code: { text: 'EPDS' }, subject, valueInteger: 7 })).id!);
    tasks.push((await store.create<Task>({ resourceType: 'Task', status: 'requested', intent: 'order', for: subject, requester: { reference: here }, owner: { reference: 'Organization/ostfold-familieambulatorium' } })).id!);
  }
  const interactions: { name: string; call: Call }[] = [
    { name: 'Task read (the caller is its requester)', call: { path: (i) => `/fhir/Task/${tasks[i % tasks.length]}` } },
    { name: 'Observation read (through the family)', call: { path: (i) => `/fhir/Observation/${observations[i % observations.length]}` } },
    { name: "Task search (the caller's, 10 a page)", call: { path: (i) => `/fhir/Task?requester=${here}&_count=10&_offset=${(i % 5) * 10}` } },
    {
      name: 'Observation create (in its family)',
      call: {
        path: () => '/fhir/Observation',
        method: 'POST',
        body: (i) => ({ resourceType: 'Observation', status: 'final', code: { text: 'EPDS' }, subject: { reference: patients[i % patients.length] }, valueInteger: i % 30 }),
      },
    },
  ];
  const auth = { issuer: idp.issuer, audience: DEV_API_AUDIENCE, jwksUri: idp.jwksUri, organisations: idp.organisations };
  const [bare, bearerApi, dpopApi] = await Promise.all([0, 1, 2].map(() => listenLater()));
  // A store object of its own: the access checks' family cache makes a store's reads bring the write
  // generation along (FhirStore.writeGeneration), which a server without them would not pay for.
  bare.use(createApp({ store: await FhirStore.open(db) }));
  bearerApi.use(await buildHttpApp({ store, publicUrl: bearerApi.url, auth: { ...auth, requireDpop: false } }));
  dpopApi.use(await buildHttpApp({ store, publicUrl: dpopApi.url, auth: { ...auth, requireDpop: true } }));
  console.log(`\nThrough the API (app/http.ts: FHIR store on ${where}, AuditEvents stored, organisation access): requests=${requests} x ${rounds} rounds`);
  for (const { name, call } of interactions) {
    const htm = call.method ?? 'GET';
    const makeProofs = (signer: DpopKey, token: string) =>
      Promise.all(Array.from({ length: requests * (rounds + 1) }, (_, i) => makeProof(signer, { htm, htu: `${dpopApi.url}${call.path(i % requests).split('?')[0]}`, accessToken: token })));
    const [proofs, rsaProofs] = [await makeProofs(key, dpopToken), await makeProofs(rsaKey, rsaDpopToken)];
    let [used, rsaUsed] = [0, 0];
    const targets = [
      { url: bare.url, headers: () => ({}), call },
      { url: bearerApi.url, headers: () => ({ authorization: `Bearer ${bearer}` }), call },
      { url: dpopApi.url, headers: () => ({ authorization: `DPoP ${dpopToken}`, dpop: proofs[used++] }), call },
      { url: dpopApi.url, headers: () => ({ authorization: `DPoP ${rsaDpopToken}`, dpop: rsaProofs[rsaUsed++] }), call },
    ];
    for (const t of targets) await load(t.url, requests, concurrency, t.headers, t.call);
    const names = [`${name}, no auth, no audit`, `${name}, audit + Bearer`, `${name}, audit + DPoP (ES256)`, `${name}, audit + DPoP (PS256)`];
    report(names, await interleave(targets, rounds, requests, concurrency));
  }
  for (const api of [bare, bearerApi, dpopApi]) api.close();
  await store.close();
}

interface Tokens {
  bearer: string;
  /** Bound to `key` (ES256). */
  dpopToken: string;
  key: DpopKey;
  /** Bound to `rsaKey` (PS256). */
  rsaDpopToken: string;
  rsaKey: DpopKey;
}

interface Listening {
  url: string;
  use(app: RequestListener): void;
  close(): void;
}

/** A server listening before its app exists (the app needs its own URL for DPoP's htu). */
async function listenLater(): Promise<Listening> {
  let app: RequestListener = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => app(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    use: (next) => void (app = next),
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
