/**
 * `forlop start` (what `npm start` runs) as a real process: it brings up the
 * embedded Temporal server, the dev IdP, the FHIR API and the pathway
 * worker, answers on /fhir/metadata, and stops cleanly (exit 0) on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

jest.setTimeout(90_000);

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

it('starts every component, serves the API, and exits 0 on SIGTERM', async () => {
  const [httpPort, temporalPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'bin', 'forlop.js'), 'start'], {
    env: { ...process.env, FORLOP_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'forlop-start-')), FORLOP_HTTP_PORT: String(httpPort), FORLOP_EMBEDDED_TEMPORAL_PORT: String(temporalPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 300 && !output.includes('pathway worker running'); i++) await new Promise((r) => setTimeout(r, 100));
  expect(output).toContain('pathway worker running');
  const metadata = await fetch(`http://127.0.0.1:${httpPort}/fhir/metadata`);
  expect(metadata.status).toBe(200);
  expect(((await metadata.json()) as { resourceType: string }).resourceType).toBe('CapabilityStatement');
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(output).not.toContain('did not stop cleanly');
});
