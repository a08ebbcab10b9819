/**
 * Running `forlop` commands as real processes in tests, and talking to the
 * API they serve the way a municipal system would: a token from the dev
 * IdP, a mother and her EpisodeOfCare, then her CarePlan.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

export interface ForlopProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

export function spawnForlop(args: string[], env: Record<string, string>): ForlopProcess {
  // The dev IdP's port is fixed by default (8090); tests run side by side, so each takes a free one unless it names one.
  const child = spawn(process.execPath, [path.join(__dirname, '..', '..', 'bin', 'forlop.js'), ...args], { env: { ...process.env, FORLOP_DEV_IDP_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  return { child, output: () => output, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

/** Polls (a process is not ours to await) until `check` holds, for at most `timeoutMs` (30 s). */
export async function until(check: () => boolean | Promise<boolean>, what: string, intervalMs = 100, timeoutMs = 30_000): Promise<void> {
  for (let waited = 0; waited < timeoutMs; waited += intervalMs) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Headers for the helsestasjon demo client, with a token from the dev IdP at `issuer`. */
export async function helsestasjonToken(issuer: string, scope = 'system/Patient.cruds system/EpisodeOfCare.cruds system/CarePlan.rs'): Promise<Record<string, string>> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('helsestasjon-secret:dev-secret-helsestasjon').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: 'urn:forlop:api' }),
  });
  if (!response.ok) throw new Error(`dev IdP token: HTTP ${response.status}`);
  const { access_token: token } = (await response.json()) as { access_token: string };
  return { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };
}

/** The same, from the dev IdP whose start-up line is in a process's `output`. */
export async function helsestasjonHeaders(output: string, scope?: string): Promise<Record<string, string>> {
  const issuer = (JSON.parse(output.split('\n').find((l) => l.includes('development OIDC provider running'))!) as { issuer: string }).issuer;
  return helsestasjonToken(issuer, scope);
}

/** A mother and her EpisodeOfCare on the basis programme, due in 150 days: the enrolment. */
export async function enrolThroughApi(api: string, headers: Record<string, string>, pathway = 'Basisprogram'): Promise<{ motherId: string; episodeId: string; episodeStatus: number }> {
  const mother = (await (await fetch(`${api}/Patient`, { method: 'POST', headers, body: JSON.stringify({ resourceType: 'Patient', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' } }) })).json()) as { id: string };
  const episode = await fetch(`${api}/EpisodeOfCare`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      resourceType: 'EpisodeOfCare',
      status: 'active',
      type: [{ coding: [{ system: 'https://forlop.no/fhir/CodeSystem/pathway', code: pathway }] }],
      patient: { reference: `Patient/${mother.id}` },
      managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' },
      period: { start: new Date().toISOString().slice(0, 10) },
      extension: [{ url: 'https://forlop.no/fhir/StructureDefinition/estimated-due-date', valueDate: new Date(Date.now() + 150 * 86_400_000).toISOString().slice(0, 10) }],
    }),
  });
  const { id: episodeId } = (await episode.json()) as { id: string };
  return { motherId: mother.id, episodeId, episodeStatus: episode.status };
}

/** The mother's CarePlans once the worker has written one (empty if it never does). */
export async function awaitCarePlans(api: string, headers: Record<string, string>, motherId: string): Promise<{ resource: { instantiatesCanonical?: string[] } }[]> {
  let entries: { resource: { instantiatesCanonical?: string[] } }[] = [];
  await until(async () => {
    entries = ((await (await fetch(`${api}/CarePlan?subject=Patient/${motherId}`, { headers })).json()) as { entry?: typeof entries }).entry ?? [];
    return entries.length > 0;
  }, 'the CarePlan written by the worker', 200).catch(() => undefined);
  return entries;
}
