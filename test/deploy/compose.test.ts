/**
 * docker-compose.yml cannot be started here (no Docker engine), so this
 * checks what can be checked: its shape (services, images and their
 * versions, dependencies that exist, health checks), and that the settings
 * it gives Forløp's processes are exactly the ones app/config.ts reads and
 * accepts, with the example .env filled in. (It is not validated against the
 * Compose Specification's JSON Schema: that file is not on the npm registry
 * in a current version, and nothing may be downloaded.)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../app/config';

const root = path.join(__dirname, '..', '..');
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { image?: string; build?: string; command?: string[]; depends_on?: Record<string, { condition: string }>; environment?: Record<string, string>; env_file?: string; healthcheck?: unknown; ports?: string[] }>;
};
const example = Object.fromEntries(
  readFileSync(path.join(root, 'deploy', 'env.example'), 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);
const configSource = readFileSync(path.join(root, 'app', 'config.ts'), 'utf8');
/** ${VAR:?message} and ${VAR} interpolation, as Compose does it, from the example .env. */
const interpolate = (value: string) => value.replace(/\$\{([A-Z_]+)(:\?[^}]*)?\}/g, (_m, name: string) => example[name] ?? '');

describe('docker-compose.yml', () => {
  it('has the production stack, with real image versions and dependencies that exist', () => {
    const s = compose.services;
    expect(Object.keys(s).sort()).toEqual(['forlop-server', 'forlop-worker', 'postgresql', 'temporal', 'temporal-namespace', 'temporal-schema', 'temporal-ui']);
    expect(s.postgresql.image).toBe('postgres:16');
    expect(s.temporal.image).toMatch(/^temporalio\/server:1\.30\.\d+$/);
    expect(s['temporal-schema'].image).toMatch(/^temporalio\/admin-tools:1\.30\.\d+$/);
    expect(s['temporal-ui'].image).toMatch(/^temporalio\/ui:2\.\d+\.\d+$/);
    for (const [name, service] of Object.entries(s)) {
      for (const dependency of Object.keys(service.depends_on ?? {})) expect([name, dependency in s]).toEqual([name, true]);
    }
    expect(s.postgresql.healthcheck).toBeDefined();
    expect(s.temporal.healthcheck).toBeDefined();
    expect([s['forlop-server'].command, s['forlop-worker'].command]).toEqual([['serve'], ['worker']]);
  });

  it("gives Forløp's processes settings the code reads and accepts, pointing at the stack's own services", () => {
    for (const name of ['forlop-server', 'forlop-worker']) {
      const service = compose.services[name];
      expect(service.env_file).toBe('.env');
      const env = { ...example, ...Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))])) };
      for (const key of Object.keys(env)) if (key !== 'POSTGRES_PASSWORD') expect([key, configSource.includes(`'${key}'`) || configSource.includes(`env.${key}`)]).toEqual([key, true]);
      const config = loadConfig({}, { ...env, FORLOP_PAYLOAD_KEYS: `2026a:${Buffer.alloc(32, 1).toString('base64')}` });
      expect(config.mode).toBe('production');
      expect(config.temporal).toMatchObject({ kind: 'external', address: 'temporal:7233', namespace: 'forlop' });
      expect(config.database.url).toBe(`postgres://forlop:${example.POSTGRES_PASSWORD}@postgresql:5432/forlop`);
      expect(config.auth).toMatchObject({ kind: 'oidc', requireDpop: true });
    }
    expect(compose.services['forlop-server'].ports).toEqual([`${compose.services['forlop-server'].environment!.FORLOP_HTTP_PORT}:8080`]);
  });

  it('builds Forløp on a current Node LTS and serves by default', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const bases = [...dockerfile.matchAll(/^FROM node:(\d+)/gm)].map((m) => Number(m[1]));
    expect(bases.length).toBeGreaterThan(0);
    for (const major of bases) expect(major).toBeGreaterThanOrEqual(22);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/forlop\.js"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["serve"\]$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
  });
});
