/**
 * Cost of authentication and audit per request (issue #6: auth + audit
 * together should cost <= 30% of requests/s). Same tiny FHIR-shaped handler,
 * five stacks: none; Bearer JWT auth + scope; + auditTrail (in-memory write,
 * so the figure is the middleware's own cost, not the store's); DPoP-bound
 * token with a proof per request + audit; and, as the floor under the DPoP
 * figure, audit + Bearer + only the proof's ES256 signature check (the one
 * step RFC 9449 cannot skip, done as our DPoP check does it). Tokens come from
 * the real dev IdP; DPoP proofs are made before timing so client-side
 * signing is not counted.
 *
 * Many short rounds, each running every stack back to back; a stack's cost is
 * the median of its costs against the baseline of the same round.
 * Options: --requests=N per round (default 500), --rounds=R (default 40),
 * --concurrency=C (default 16).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import type { JWK } from 'jose';
import { DEV_API_AUDIENCE, startDevIdp, type DevIdp } from '../app/dev-idp';
import { auditTrail } from '../server/audit';
import { authenticate, requireScope } from '../server/auth';
import { importPublicKey, verifyJwsPayload } from '../server/auth/jws-signature';
import { getToken, makeProof, newDpopKey } from '../test/security/dpop-client';

interface Stack {
  name: string;
  middleware: RequestHandler[];
  headers: (i: number, url: string) => Record<string, string>;
}

async function serve(middleware: RequestHandler[]): Promise<{ url: string; server: Server }> {
  const app = express();
  app.use(...(middleware.length > 0 ? middleware : [(_req, _res, next) => next()] as RequestHandler[]));
  app.get('/fhir/Task/:id', (req, res) => {
    res.json({ resourceType: 'Task', id: req.params.id, status: 'requested', intent: 'order' });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function load(url: string, requests: number, concurrency: number, headers: Stack['headers']): Promise<number> {
  let next = 0;
  let failures = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const i = next++;
        const target = `${url}/fhir/Task/${i % 50}`;
        const response = await fetch(target, { headers: headers(i, target) });
        await response.arrayBuffer();
        if (response.status !== 200) failures++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
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

function option(args: string[], name: string, fallback: number): number {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.split('=')[1]) : fallback;
}

export async function run(args: string[]): Promise<void> {
  const requests = option(args, 'requests', 500);
  const concurrency = option(args, 'concurrency', 16);
  const rounds = option(args, 'rounds', 40);
  const idp: DevIdp = await startDevIdp({ accessTokenTtlSeconds: 3600 });
  try {
    const authOptions = { issuer: idp.issuer, audience: DEV_API_AUDIENCE, jwks: { uri: idp.jwksUri }, organisations: idp.organisations };
    const bearer = await getToken(idp, 'helsestasjon', 'system/Task.rs');
    const key = await newDpopKey();
    const dpopToken = await getToken(idp, 'helsestasjon', 'system/Task.rs', { dpop: key });
    const audited: unknown[] = [];
    const write = async (event: unknown) => {
      audited.push(event);
      if (audited.length > 1000) audited.length = 0;
    };

    const proofKey = key;
    let proofs: string[] = [];
    let used = 0;
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
        name: 'audit + DPoP JWT + scope',
        middleware: [auditTrail({ write }), authenticate({ ...authOptions, dpop: { required: true } }), requireScope('Task', 'read')],
        headers: () => ({ authorization: `DPoP ${dpopToken}`, dpop: proofs[used++] }),
      },
      {
        // Only the proof's signature, with its key imported once: what any DPoP check must spend per request.
        name: 'floor: audit + Bearer + ES256',
        middleware: [auditTrail({ write }), authenticate(authOptions), requireScope('Task', 'read'), proofSignatureOnly(key.publicJwk)],
        headers: () => ({ authorization: `Bearer ${bearer}`, dpop: proofs[used++] }),
      },
    ];
    const servers = await Promise.all(stacks.map((stack) => serve(stack.middleware)));
    const dpopUrl = servers[3].url;
    const makeProofs = (count: number) =>
      Promise.all(Array.from({ length: count }, (_, i) => makeProof(proofKey, { htm: 'GET', htu: `${dpopUrl}/fhir/Task/${i % 50}`, accessToken: dpopToken })));

    // Warm up every stack (JIT, JWKS fetch, key import), then interleave rounds and take the median,
    // so that machine noise and warm-up order do not favour one stack.
    const warmUp = Math.min(1000, requests);
    // All proofs up front (two stacks use them): signing thousands with WebCrypto right before a timed run would slow that run.
    proofs = await makeProofs(2 * (warmUp + rounds * requests));
    for (const [i, stack] of stacks.entries()) await load(servers[i].url, warmUp, concurrency, stack.headers);
    const samples: number[][] = stacks.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (const [i, stack] of stacks.entries()) {
        samples[i].push(await load(servers[i].url, requests, concurrency, stack.headers));
      }
    }
    for (const { server } of servers) {
      server.closeAllConnections();
      server.close();
    }
    // Each round runs every stack back to back, so a stack's cost is taken against the baseline of its own
    // round: the machine's speed drifts over a run (by tens of percent here), and pairing cancels the drift.
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const baseline = median(samples[0]);
    console.log(`requests=${requests} x ${rounds} rounds; concurrency=${concurrency}; client and server in one process`);
    console.log(`${''.padEnd(30)} ${'req/s'.padStart(7)}   cost vs none (median of the rounds' paired costs, and their range)`);
    for (const [i, stack] of stacks.entries()) {
      const costs = samples[i].map((rps, round) => (1 - rps / samples[0][round]) * 100);
      const figure = i === 0 ? '-' : `${median(costs).toFixed(1)}% (${Math.min(...costs).toFixed(1)} to ${Math.max(...costs).toFixed(1)})`;
      console.log(`${stack.name.padEnd(30)} ${(i === 0 ? baseline : median(samples[i])).toFixed(0).padStart(7)}   ${figure}`);
    }
  } finally {
    await idp.stop();
  }
}
