/**
 * Forløp's configuration: one typed loader, read once at start-up.
 * Order of precedence for every setting: an explicit option passed by code
 * (tests, the `forlop` command line) > an environment variable > a default.
 * Nothing reads the environment at import time; `loadConfig` fails fast with
 * one message naming every missing or malformed setting.
 *
 * The environment variables and their defaults are documented in
 * docs/configuration.md; keep the two in step.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

export type Mode = 'development' | 'production';

/** The dev IdP's port when FORLOP_DEV_IDP_PORT is not set. */
export const DEFAULT_DEV_IDP_PORT = 8090;

export interface TemporalSettings {
  /** 'embedded' starts Forløp's own Temporal-compatible server in this process. */
  kind: 'embedded' | 'external';
  /** host:port of the Temporal frontend (external), or where the embedded one listens. */
  address: string;
  namespace: string;
  taskQueue: string;
  /** mTLS client certificate and key (PEM file paths) and an optional CA for the server. */
  tls?: { clientCertPath?: string; clientKeyPath?: string; serverCaPath?: string; serverName?: string };
  /** Temporal Cloud style API key, sent as a bearer token. */
  apiKey?: string;
  /**
   * Where the embedded server keeps its state: 'durable' = PostgreSQL (the
   * DATABASE_URL server, schema temporal; else PGlite in `dataDir`), or
   * 'memory' (lost when the process stops). Ignored for an external frontend.
   */
  embeddedStorage: 'durable' | 'memory';
  /** PGlite directory of the embedded server's state (beside the FHIR store's). */
  embeddedDataDir: string;
  /** Closed workflows are removed this long after they close (ms); 0 keeps them. */
  embeddedRetentionMs: number;
}

export interface DatabaseSettings {
  /** A PostgreSQL connection string; when absent, PGlite in `dataDir`. */
  url?: string;
  dataDir: string;
}

export interface AuthSettings {
  /**
   * 'dev-idp': start the built-in OIDC provider on loopback and trust it;
   * 'oidc': trust a configured issuer (HelseID or another provider);
   * 'disabled': no authentication at all, only with an explicit flag.
   */
  kind: 'dev-idp' | 'oidc' | 'disabled';
  issuer?: string;
  audience: string;
  jwksUri?: string;
  /** The issuer's token endpoint, advertised to clients (SMART discovery); default from the issuer's discovery document. */
  tokenEndpoint?: string;
  /** Require DPoP-bound tokens (HelseID's profile). */
  requireDpop: boolean;
  devIdpPort: number;
}

export interface PayloadKeySettings {
  /** key id -> base64 of a 32-byte AES key. */
  keys: Record<string, string>;
  currentKeyId: string;
}

export interface Config {
  mode: Mode;
  dataDir: string;
  http: { host: string; port: number; publicUrl: string };
  temporal: TemporalSettings;
  database: DatabaseSettings;
  auth: AuthSettings;
  /** Undefined in development: a key is generated and kept in the data directory. */
  payloadKeys?: PayloadKeySettings;
  /** An external FHIR server the workflows read and write instead of Forløp's own store. */
  externalFhir?: ExternalFhirSettings;
  /** The organisation delivering each service of the definitions (service id -> Organization/...), for handoff Tasks' owners. */
  services: Record<string, string>;
  logLevel: string;
  /** The coordinator dashboard's OIDC client at an external issuer (FORLOP_DASHBOARD_CLIENT_ID/_SECRET, OIDC_RESOURCE); the dev IdP has its own. */
  dashboard?: { clientId: string; clientSecret: string; resource: string };
  /** Fault injection for the crash-recovery tests only (refused in production). */
  faults?: { activityCompletionDelayMs: number };
  /** The deployment's own pathway definitions (FORLOP_PATHWAYS_DIR, default ./pathways.local when present), loaded beside the built-in ones. */
  pathwaysDir?: string;
}

/**
 * Development defaults for FORLOP_SERVICE_ORGANISATIONS: the dev IdP's
 * demo organisations (app/dev-idp.ts), so handoffs in `npm start` go to an
 * organisation a demo client acts for.
 */
export const DEV_SERVICE_ORGANISATIONS: Record<string, string> = {
  jordmor: 'Organization/sarpsborg-helsestasjon',
  helsestasjon: 'Organization/sarpsborg-helsestasjon',
  kommunepsykolog: 'Organization/sarpsborg-kommune',
  'koordinerende-enhet': 'Organization/sarpsborg-kommune',
  'sarpsborg-team': 'Organization/sarpsborg-kommune',
  familieambulatorium: 'Organization/ostfold-familieambulatorium',
  dps: 'Organization/sykehuset-ostfold-dps',
  tsb: 'Organization/sykehuset-ostfold',
  bup: 'Organization/sykehuset-ostfold',
  fodeavdeling: 'Organization/sykehuset-ostfold',
};

export interface ExternalFhirSettings {
  baseUrl: string;
  issuer: string;
  clientId: string;
  /** Path of the client's private JWK (JSON, with kid) for private_key_jwt. */
  privateKeyPath: string;
  scope: string;
  resource?: string;
}

/** Options override the environment; each field mirrors the environment variable it replaces. */
export type ConfigOptions = Partial<{
  mode: Mode;
  dataDir: string;
  httpHost: string;
  httpPort: number;
  publicUrl: string;
  temporalAddress: string;
  temporalNamespace: string;
  taskQueue: string;
  databaseUrl: string;
  authKind: AuthSettings['kind'];
  logLevel: string;
  pathwaysDir: string;
}>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Forløp cannot start, the configuration is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}\nSee docs/configuration.md.`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(options: ConfigOptions = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const str = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value.trim());
  const int = (name: string, value: string | number | undefined, fallback: number): number => {
    if (value === undefined || value === '') return fallback;
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
      problems.push(`${name} must be a port number (0-65535), got '${value}'`);
      return fallback;
    }
    return n;
  };
  const days = (name: string, value: string | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) {
      problems.push(`${name} must be a number of days (0 or more; 0 keeps closed workflows for ever), got '${value}'`);
      return fallback;
    }
    return n;
  };
  const oneOf = <T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T => {
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    problems.push(`${name} must be one of ${allowed.join(', ')}, got '${value}'`);
    return fallback;
  };

  const mode = oneOf('FORLOP_MODE', options.mode ?? str(env.FORLOP_MODE), ['development', 'production'] as const, 'development');
  const dataDir = path.resolve(options.dataDir ?? str(env.FORLOP_DATA_DIR) ?? 'data');
  const httpHost = options.httpHost ?? str(env.FORLOP_HTTP_HOST) ?? '127.0.0.1';
  const httpPort = int('FORLOP_HTTP_PORT', options.httpPort ?? str(env.FORLOP_HTTP_PORT), 8080);
  const publicUrl = (options.publicUrl ?? str(env.FORLOP_PUBLIC_URL) ?? `http://${httpHost}:${httpPort}`).replace(/\/$/, '');

  const externalAddress = options.temporalAddress ?? str(env.TEMPORAL_ADDRESS);
  const temporal: TemporalSettings = {
    kind: externalAddress ? 'external' : 'embedded',
    address: externalAddress ?? `127.0.0.1:${int('FORLOP_EMBEDDED_TEMPORAL_PORT', str(env.FORLOP_EMBEDDED_TEMPORAL_PORT), 7233)}`,
    namespace: options.temporalNamespace ?? str(env.TEMPORAL_NAMESPACE) ?? 'default',
    taskQueue: options.taskQueue ?? str(env.FORLOP_TASK_QUEUE) ?? 'forlop',
    apiKey: str(env.TEMPORAL_API_KEY),
    embeddedStorage: oneOf('FORLOP_TEMPORAL_STORAGE', str(env.FORLOP_TEMPORAL_STORAGE), ['durable', 'memory'] as const, 'durable'),
    embeddedDataDir: path.join(dataDir, 'temporal'),
    embeddedRetentionMs: days('FORLOP_TEMPORAL_RETENTION_DAYS', str(env.FORLOP_TEMPORAL_RETENTION_DAYS), 30) * 86_400_000,
  };
  const tls = {
    clientCertPath: str(env.TEMPORAL_TLS_CLIENT_CERT_PATH),
    clientKeyPath: str(env.TEMPORAL_TLS_CLIENT_KEY_PATH),
    serverCaPath: str(env.TEMPORAL_TLS_SERVER_CA_PATH),
    serverName: str(env.TEMPORAL_TLS_SERVER_NAME),
  };
  if (Object.values(tls).some(Boolean) || str(env.TEMPORAL_TLS) === 'true') temporal.tls = tls;
  if (Boolean(tls.clientCertPath) !== Boolean(tls.clientKeyPath)) {
    problems.push('TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together: set both for mTLS, or neither');
  }

  const databaseUrl = options.databaseUrl ?? str(env.DATABASE_URL);
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) problems.push(`DATABASE_URL must be a postgres:// URL, got '${databaseUrl.replace(/\/\/[^@]*@/, '//***@')}'`);

  const authKind = oneOf(
    'FORLOP_AUTH',
    options.authKind ?? str(env.FORLOP_AUTH),
    ['dev-idp', 'oidc', 'disabled'] as const,
    mode === 'production' || str(env.OIDC_ISSUER) ? 'oidc' : 'dev-idp',
  );
  const auth: AuthSettings = {
    kind: authKind,
    issuer: str(env.OIDC_ISSUER),
    audience: str(env.OIDC_AUDIENCE) ?? 'forlop-api',
    jwksUri: str(env.OIDC_JWKS_URI),
    tokenEndpoint: str(env.OIDC_TOKEN_ENDPOINT),
    requireDpop: (str(env.OIDC_REQUIRE_DPOP) ?? (mode === 'production' ? 'true' : 'false')) === 'true',
    // Fixed by default, so the issuer (its URL) outlives a restart and tokens fetched before it still match.
    devIdpPort: int('FORLOP_DEV_IDP_PORT', str(env.FORLOP_DEV_IDP_PORT), DEFAULT_DEV_IDP_PORT),
  };
  if (auth.kind === 'oidc' && !auth.issuer) problems.push('OIDC_ISSUER is required when FORLOP_AUTH=oidc (the issuer URL of HelseID or your OIDC provider)');
  if (auth.kind === 'dev-idp' && mode === 'production') problems.push('FORLOP_AUTH=dev-idp is for development only; set OIDC_ISSUER in production');
  if (auth.kind === 'disabled' && str(env.FORLOP_ALLOW_UNAUTHENTICATED) !== 'yes-i-understand') {
    problems.push("FORLOP_AUTH=disabled also needs FORLOP_ALLOW_UNAUTHENTICATED=yes-i-understand: every API call would be anonymous");
  }

  const payloadKeys = parsePayloadKeys(str(env.FORLOP_PAYLOAD_KEYS), str(env.FORLOP_PAYLOAD_KEY_ID), problems);
  if (!payloadKeys && mode === 'production') problems.push('FORLOP_PAYLOAD_KEYS is required in production (keyId:base64key,...); workflow data must be encrypted with a managed key');

  const externalFhirUrl = str(env.FORLOP_FHIR_SERVER_URL);
  let externalFhir: ExternalFhirSettings | undefined;
  if (externalFhirUrl) {
    const required = { FORLOP_FHIR_ISSUER: str(env.FORLOP_FHIR_ISSUER), FORLOP_FHIR_CLIENT_ID: str(env.FORLOP_FHIR_CLIENT_ID), FORLOP_FHIR_CLIENT_KEY_PATH: str(env.FORLOP_FHIR_CLIENT_KEY_PATH) };
    for (const [name, value] of Object.entries(required)) if (!value) problems.push(`${name} is required with FORLOP_FHIR_SERVER_URL (the external FHIR server's OIDC client: issuer, client id, private JWK file)`);
    if (!/^https?:\/\//.test(externalFhirUrl)) problems.push(`FORLOP_FHIR_SERVER_URL must be an http(s) URL, got '${externalFhirUrl}'`);
    externalFhir = {
      baseUrl: externalFhirUrl,
      issuer: required.FORLOP_FHIR_ISSUER ?? '',
      clientId: required.FORLOP_FHIR_CLIENT_ID ?? '',
      privateKeyPath: required.FORLOP_FHIR_CLIENT_KEY_PATH ?? '',
      scope: str(env.FORLOP_FHIR_SCOPE) ?? 'system/CarePlan.cru system/Encounter.cru system/Communication.cru system/Task.cru system/ServiceRequest.cru',
      resource: str(env.FORLOP_FHIR_RESOURCE),
    };
  }

  const services = parseServices(str(env.FORLOP_SERVICE_ORGANISATIONS), problems) ?? (mode === 'development' ? { ...DEV_SERVICE_ORGANISATIONS } : {});

  const faultDelay = str(env.FORLOP_FAULT_ACTIVITY_COMPLETION_DELAY_MS);
  if (faultDelay && mode === 'production') problems.push('FORLOP_FAULT_ACTIVITY_COMPLETION_DELAY_MS is for crash tests only and is refused in production');
  if (faultDelay && !(Number(faultDelay) >= 0)) problems.push(`FORLOP_FAULT_ACTIVITY_COMPLETION_DELAY_MS must be a number of milliseconds, got '${faultDelay}'`);

  const pathwaysDir = pathwaysDirectory(options.pathwaysDir ?? str(env.FORLOP_PATHWAYS_DIR), problems);

  const dashboardClientId = str(env.FORLOP_DASHBOARD_CLIENT_ID);
  const dashboardClientSecret = str(env.FORLOP_DASHBOARD_CLIENT_SECRET);
  if (!!dashboardClientId !== !!dashboardClientSecret) problems.push('FORLOP_DASHBOARD_CLIENT_ID and FORLOP_DASHBOARD_CLIENT_SECRET go together: set both to serve the coordinator dashboard, or neither');
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    mode,
    dataDir,
    http: { host: httpHost, port: httpPort, publicUrl },
    temporal,
    database: { url: databaseUrl, dataDir: path.join(dataDir, 'fhir') },
    auth,
    payloadKeys,
    ...(externalFhir ? { externalFhir } : {}),
    services,
    logLevel: options.logLevel ?? str(env.FORLOP_LOG_LEVEL) ?? 'info',
    ...(dashboardClientId && dashboardClientSecret ? { dashboard: { clientId: dashboardClientId, clientSecret: dashboardClientSecret, resource: str(env.OIDC_RESOURCE) ?? 'urn:forlop:api' } } : {}),
    ...(faultDelay ? { faults: { activityCompletionDelayMs: Number(faultDelay) } } : {}),
    ...(pathwaysDir ? { pathwaysDir } : {}),
  };
}

/** FORLOP_PATHWAYS_DIR must name a directory; without it, ./pathways.local is used when it exists. */
function pathwaysDirectory(configured: string | undefined, problems: string[]): string | undefined {
  if (configured === undefined) {
    const fallback = path.resolve('pathways.local');
    return existsSync(fallback) && statSync(fallback).isDirectory() ? fallback : undefined;
  }
  const dir = path.resolve(configured);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) problems.push(`FORLOP_PATHWAYS_DIR must name a directory of pathway definitions (YAML or JSON), got '${configured}' (${dir} is not a directory)`);
  return dir;
}

/** `FORLOP_SERVICE_ORGANISATIONS=dps=Organization/so-dps,helsestasjon=Organization/hs,...` */
function parseServices(raw: string | undefined, problems: string[]): Record<string, string> | undefined {
  if (!raw) return undefined;
  const services: Record<string, string> = {};
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z0-9][a-z0-9-]*)=(Organization\/[A-Za-z0-9\-.]{1,64})$/.exec(part);
    if (!m) {
      problems.push(`FORLOP_SERVICE_ORGANISATIONS: each entry is <service id>=Organization/<id> (e.g. dps=Organization/sykehuset-ostfold); '${part}' is not`);
      continue;
    }
    services[m[1]] = m[2];
  }
  return services;
}

/** `FORLOP_PAYLOAD_KEYS=2026a:BASE64,2025b:BASE64`; the first (or FORLOP_PAYLOAD_KEY_ID) encrypts, all decrypt. */
function parsePayloadKeys(raw: string | undefined, current: string | undefined, problems: string[]): PayloadKeySettings | undefined {
  if (!raw) return undefined;
  const keys: Record<string, string> = {};
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const colon = part.indexOf(':');
    const id = part.slice(0, colon);
    const key = part.slice(colon + 1);
    if (colon <= 0 || Buffer.from(key, 'base64').length !== 32) {
      problems.push(`FORLOP_PAYLOAD_KEYS: each entry is keyId:base64 of 32 random bytes (openssl rand -base64 32); '${id || part.slice(0, 8)}…' is not`);
      continue;
    }
    keys[id] = key;
  }
  const ids = Object.keys(keys);
  if (ids.length === 0) return undefined;
  const currentKeyId = current ?? ids[0];
  if (!keys[currentKeyId]) problems.push(`FORLOP_PAYLOAD_KEY_ID '${currentKeyId}' is not one of the keys in FORLOP_PAYLOAD_KEYS (${ids.join(', ')})`);
  return { keys, currentKeyId };
}
