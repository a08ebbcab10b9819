/**
 * A built-in OpenID provider for development and tests (oidc-provider 9),
 * shaped like HelseID so the full authentication path runs by default:
 * client_credentials grant, private_key_jwt client authentication, DPoP-bound
 * JWT access tokens for the Forløp API, HelseID-style organisation claims and
 * SMART v2 scopes. Loopback only, in memory, keys generated at start; nothing
 * is downloaded. Never use it in production (app/config.ts refuses).
 *
 * Also accepts client_secret_basic / client_secret_post through the
 * "<client>-secret" / "<client>-post" twins of each demo client, so a token
 * can be fetched with curl (docs/security.md).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import Provider from 'oidc-provider';
import { HELSEID_CLAIMS } from '../server/auth/context';
import { DPOP_ALGORITHMS } from '../server/auth/dpop';
import { parseScope, type SmartScope } from '../server/auth/scopes';
import { DASHBOARD_CLIENT_ID, DASHBOARD_SCOPES, DEMO_USERS, dashboardClientMetadata, findDemoAccount, handleInteraction, logoutPage } from './dev-idp-login';

/** Resource indicator (RFC 8707) of the Forløp API, and the audience its tokens carry. */
export const DEV_API_RESOURCE = 'urn:forlop:api';
export const DEV_API_AUDIENCE = 'forlop-api';
/** A second resource, so tests can obtain a real token for another audience. */
export const DEV_OTHER_RESOURCE = 'urn:forlop:other-api';

/**
 * Fictitious organisations (valid mod-11 organisation numbers in a range not
 * used by Enhetsregisteret's real entities we know of) and the Organization
 * resources they map to. The server's organisation mapping in development.
 */
export const DEV_ORGANISATIONS = {
  '910000012': 'Organization/sarpsborg-kommune',
  '910000020': 'Organization/sarpsborg-helsestasjon',
  '910000039': 'Organization/ostfold-familieambulatorium',
  '910000047': 'Organization/fredrikstad-kommune',
  '910000055': 'Organization/fredrikstad-helsestasjon',
  '910000063': 'Organization/sykehuset-ostfold',
  '910000071': 'Organization/sykehuset-ostfold-dps',
} as const satisfies Record<string, `Organization/${string}`>;

interface DemoClientSpec {
  clientId: string;
  description: string;
  orgnrParent: string;
  orgnrChild?: string;
  role: 'coordinator' | 'system';
  /** The broadest SMART scopes the client may be granted; it asks for these or narrower ones. */
  allowedScopes: string[];
}

const DEMO_CLIENTS: DemoClientSpec[] = [
  {
    clientId: 'helsestasjon',
    description: 'Sarpsborg helsestasjon (helsestasjons- og skolehelsetjenesten)',
    orgnrParent: '910000012',
    orgnrChild: '910000020',
    role: 'system',
    allowedScopes: ['system/*.cruds'],
  },
  {
    clientId: 'familieambulatorium',
    description: 'Familieambulatoriet, Sykehuset Østfold',
    orgnrParent: '910000063',
    orgnrChild: '910000039',
    role: 'system',
    allowedScopes: ['system/*.cruds'],
  },
  {
    clientId: 'dps',
    description: 'DPS (psykisk helsevern for voksne), Sykehuset Østfold',
    orgnrParent: '910000063',
    orgnrChild: '910000071',
    role: 'system',
    allowedScopes: ['system/*.cruds'],
  },
  {
    clientId: 'koordinator',
    description: 'Forløpskoordinator, Sarpsborg kommune',
    orgnrParent: '910000012',
    role: 'coordinator',
    allowedScopes: ['system/*.rs', 'system/Task.cruds', 'system/CarePlan.cruds', 'system/Communication.cruds'],
  },
  {
    // Publishes pathway definitions (server/definition-writes.ts): scopes that name the definition types.
    clientId: 'operator',
    description: 'The deployment operator (publishes pathway definitions)',
    orgnrParent: '910000012',
    role: 'system',
    allowedScopes: ['system/PlanDefinition.cruds', 'system/ActivityDefinition.cruds'],
  },
  {
    clientId: 'helsestasjon-fredrikstad',
    description: 'Fredrikstad helsestasjon (another municipality, for cross-organisation checks)',
    orgnrParent: '910000047',
    orgnrChild: '910000055',
    role: 'system',
    allowedScopes: ['system/*.cruds'],
  },
];

export interface DemoClient {
  clientId: string;
  description: string;
  orgnrParent: string;
  orgnrChild?: string;
  role: string;
  allowedScopes: string[];
  /** For private_key_jwt: the client's ES256 signing key (kid included). */
  privateKey: CryptoKey;
  privateJwk: JWK;
  publicJwk: JWK;
  /** The "<clientId>-secret" twin using client_secret_basic, for curl -u. */
  secretClient: { clientId: string; clientSecret: string };
  /** The "<clientId>-post" twin using client_secret_post (secret in the form body). */
  postClient: { clientId: string; clientSecret: string };
}

export interface DevIdpOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. `forlop start` fixes it (FORLOP_DEV_IDP_PORT, default 8090), so the issuer is the same after a restart. */
  port?: number;
  /**
   * The private JWK (ES256, with kid) the provider signs tokens with; default a new one. `forlop start`
   * keeps one in the data directory (app/dev-idp-key.ts), so tokens issued before a restart stay valid
   * until they expire, and then fail saying so, rather than for an unknown key.
   */
  signingKey?: JWK;
  /** Path the provider is mounted at, e.g. "/oidc"; default none. */
  issuerPath?: string;
  /** Access token lifetime in seconds; default 300 (HelseID's default is similar). */
  accessTokenTtlSeconds?: number;
  /** Secret of the "-secret" and "-post" twins of a demo client; default "dev-secret-<demo client id>" (loopback, development only). */
  clientSecret?: (clientId: string) => string;
  /** The coordinator dashboard's login callback(s) and where it returns after logout: with them, the dev IdP has the dashboard's client and a login page with demo users (app/dev-idp-login.ts). */
  dashboard?: { redirectUris: string[]; postLogoutRedirectUris: string[] };
}

export interface DevIdp {
  issuer: string;
  jwksUri: string;
  tokenEndpoint: string;
  clients: Record<string, DemoClient>;
  organisations: Record<string, string>;
  stop(): Promise<void>;
}

// The small part of oidc-provider's API used here (it ships no type declarations; types/oidc-provider.d.ts).
type AdapterPayload = Record<string, unknown> & { grantId?: string; consumed?: number };
type ClientMetadata = Record<string, unknown>;
interface GrantContext {
  oidc: { session?: { accountId?: string }; client?: { clientId: string } };
}
interface TokenContext {
  oidc: { params?: Record<string, unknown> };
}

/** v2 permission letters of `narrow` are all in `broad`, for the same or a wildcard type. */
function covers(broad: SmartScope, narrow: SmartScope): boolean {
  if (broad.context !== narrow.context || narrow.query !== undefined) return false;
  if (broad.resourceType !== '*' && broad.resourceType !== narrow.resourceType) return false;
  return [...narrow.permissions].every((p) => broad.permissions.has(p));
}

/** The requested scopes this client may have: each must be covered by one of its allowed scopes. */
export function grantableScopes(requested: string, allowed: readonly string[]): string[] {
  const allowedParsed = allowed.flatMap((s) => parseScope(s) ?? []);
  return requested.split(' ').filter((s) => {
    const parsed = parseScope(s);
    return parsed !== undefined && allowedParsed.some((a) => covers(a, parsed));
  });
}

/**
 * A tiny in-memory adapter: oidc-provider's own prints a production warning on
 * every start. It also serves the demo clients (model "Client") rather than the
 * static `clients` option, which oidc-provider deep-copies with the host's
 * structuredClone and then type-checks by constructor; under Jest's VM realms
 * that check fails ("client JSON Web Key Set is invalid").
 */
function memoryAdapterFactory(clients: ReadonlyMap<string, ClientMetadata>) {
  const store = new Map<string, { payload: AdapterPayload; expiresAt?: number }>();
  return class MemoryAdapter {
    constructor(private readonly model: string) {}
    private key(id: string) {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
      store.set(this.key(id), { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
    }
    async find(id: string) {
      if (this.model === 'Client') return clients.get(id);
      const entry = store.get(this.key(id));
      if (!entry) return undefined;
      if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
        store.delete(this.key(id));
        return undefined;
      }
      return entry.payload;
    }
    async findByUserCode() {
      return undefined;
    }
    /** Sessions by uid: the authorization code flow checks the code's session (token_helpers' checkSessionBinding). */
    async findByUid(uid: string) {
      for (const [key, entry] of store) if (key.startsWith(`${this.model}:`) && entry.payload.uid === uid) return this.find(key.slice(this.model.length + 1));
      return undefined;
    }
    async consume(id: string) {
      const entry = store.get(this.key(id));
      if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      store.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const [key, entry] of store) if (entry.payload.grantId === grantId) store.delete(key);
    }
  };
}

async function demoClientKeys(spec: DemoClientSpec) {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = `${spec.clientId}-${randomBytes(4).toString('hex')}`;
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return { privateKey, privateJwk, publicJwk };
}

/** A new ES256 signing key for the dev IdP, as a private JWK with its kid. */
export async function newDevIdpSigningKey(): Promise<JWK> {
  const signing = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(signing.privateKey)), kid: `dev-idp-${randomBytes(4).toString('hex')}`, alg: 'ES256', use: 'sig' };
}

export async function startDevIdp(options: DevIdpOptions = {}): Promise<DevIdp> {
  const mount = (options.issuerPath ?? '').replace(/\/+$/, '');
  if (mount && !mount.startsWith('/')) throw new TypeError(`issuerPath must start with "/", got "${options.issuerPath}".`);
  const secretFor = options.clientSecret ?? ((id: string) => `dev-secret-${id}`);

  const signingJwk = options.signingKey ?? (await newDevIdpSigningKey());

  const clients: Record<string, DemoClient> = {};
  const specByClientId = new Map<string, DemoClientSpec>();
  const metadata: ClientMetadata[] = [];
  for (const spec of DEMO_CLIENTS) {
    const keys = await demoClientKeys(spec);
    const secretClient = { clientId: `${spec.clientId}-secret`, clientSecret: secretFor(spec.clientId) };
    const postClient = { clientId: `${spec.clientId}-post`, clientSecret: secretFor(spec.clientId) };
    clients[spec.clientId] = { ...spec, ...keys, secretClient, postClient };
    specByClientId.set(spec.clientId, spec);
    specByClientId.set(secretClient.clientId, spec);
    specByClientId.set(postClient.clientId, spec);
    const common = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], id_token_signed_response_alg: 'ES256' };
    metadata.push({ ...common, client_id: spec.clientId, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [keys.publicJwk] } });
    metadata.push({ ...common, client_id: secretClient.clientId, client_secret: secretClient.clientSecret, token_endpoint_auth_method: 'client_secret_basic' });
    metadata.push({ ...common, client_id: postClient.clientId, client_secret: postClient.clientSecret, token_endpoint_auth_method: 'client_secret_post' });
  }

  if (options.dashboard) metadata.push(dashboardClientMetadata(options.dashboard.redirectUris, options.dashboard.postLogoutRedirectUris));

  // Listen first: the issuer URL needs the port.
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}${mount}`;
  const ttl = options.accessTokenTtlSeconds ?? 300;

  const configuration = {
    adapter: memoryAdapterFactory(new Map(metadata.map((m) => [m.client_id as string, m]))),
    jwks: { keys: [signingJwk] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    clientAuthMethods: ['private_key_jwt', 'client_secret_basic', 'client_secret_post'],
    clientBasedCORS: () => false,
    // DPoP proofs signed as the API accepts them (oidc-provider's default is ES256, Ed25519 and EdDSA only),
    // so a client with an RSA key, as HelseID clients have, can bind its tokens too.
    enabledJWA: { dPoPSigningAlgValues: [...DPOP_ALGORITHMS] },
    ttl: { ClientCredentials: ttl, AccessToken: ttl },
    // The dashboard's login (authorization code + PKCE): demo users picked on a login page; the grant is
    // made at once (a first-party client, as HelseID's own clients are), so there is no consent screen.
    findAccount: findDemoAccount,
    // The user's name in the ID token itself (the dashboard shows it; it does not call userinfo).
    claims: { openid: ['sub'], profile: ['name'] },
    conformIdTokenClaims: false,
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `${mount}/interaction/${interaction.uid}` },
    loadExistingGrant: async (ctx: GrantContext) => {
      const accountId = ctx.oidc.session?.accountId;
      const user = DEMO_USERS.find((u) => u.accountId === accountId);
      if (!user || ctx.oidc.client?.clientId !== DASHBOARD_CLIENT_ID) return undefined;
      const grant = new provider.Grant({ accountId, clientId: DASHBOARD_CLIENT_ID });
      grant.addOIDCScope('openid profile');
      grant.addResourceScope(DEV_API_RESOURCE, user.scopes.join(' '));
      await grant.save();
      return grant;
    },
    issueRefreshToken: async (_ctx: unknown, client: { clientId: string; grantTypeAllowed(type: string): boolean }) => client.clientId === DASHBOARD_CLIENT_ID && client.grantTypeAllowed('refresh_token'),
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true, logoutSource: async (ctx: { body?: string }, form: string) => void (ctx.body = logoutPage(form)) },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: false },
      dPoP: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => DEV_API_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx: TokenContext, resourceIndicator: string, client: { clientId: string }) => {
          if (client.clientId === DASHBOARD_CLIENT_ID) {
            // A person's login: what the user's grant holds (loadExistingGrant) within these.
            if (resourceIndicator !== DEV_API_RESOURCE) throw new Provider.errors.InvalidTarget(`the dashboard only calls ${DEV_API_RESOURCE}`);
            return { scope: DASHBOARD_SCOPES.join(' '), audience: DEV_API_AUDIENCE, accessTokenTTL: ttl, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
          }
          const spec = specByClientId.get(client.clientId);
          const requested = typeof ctx.oidc.params?.scope === 'string' ? ctx.oidc.params.scope : '';
          const scope = spec ? grantableScopes(requested, spec.allowedScopes).join(' ') : '';
          const audience = resourceIndicator === DEV_API_RESOURCE ? DEV_API_AUDIENCE : resourceIndicator === DEV_OTHER_RESOURCE ? 'other-api' : undefined;
          if (!audience) throw new Provider.errors.InvalidTarget(`unknown resource ${resourceIndicator}; use ${DEV_API_RESOURCE}`);
          return { scope, audience, accessTokenTTL: ttl, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
        },
      },
    },
    // HelseID-style organisation claims and Forløp's role claim in the access token.
    extraTokenClaims: (_ctx: TokenContext, token: { clientId?: string; accountId?: string }) => {
      const user = token.accountId ? DEMO_USERS.find((u) => u.accountId === token.accountId) : undefined;
      const spec = user ?? (token.clientId ? specByClientId.get(token.clientId) : undefined);
      if (!spec) return undefined;
      return {
        [HELSEID_CLAIMS.orgnrParent]: spec.orgnrParent,
        ...(spec.orgnrChild ? { [HELSEID_CLAIMS.orgnrChild]: spec.orgnrChild } : {}),
        forlop_role: spec.role,
      };
    },
  };

  const provider = new Provider(issuer, configuration);
  const callback = provider.callback();
  if (process.env.DEBUG_DEV_IDP) provider.on('grant.error', (_ctx: unknown, error: { error_detail?: string; message: string }) => console.error('dev IdP grant error:', error.message, error.error_detail));
  const interactions = (req: IncomingMessage, res: ServerResponse) =>
    handleInteraction(provider, mount, req, res).catch((error: Error) => {
      res.statusCode = 400;
      res.end(`Login failed: ${error.message}. Start again from the dashboard.`);
      return true;
    });
  server.on('request', (req, res) => {
    const url = req.url ?? '/';
    if (mount && !(url === mount || url.startsWith(`${mount}/`) || url.startsWith(`${mount}?`))) {
      res.statusCode = 404;
      res.end();
      return;
    }
    // oidc-provider derives its mount path from originalUrl vs url.
    (req as typeof req & { originalUrl?: string }).originalUrl = url;
    req.url = url.slice(mount.length) || '/';
    if (options.dashboard && req.url.startsWith('/interaction/')) {
      void interactions(req, res);
      return;
    }
    callback(req, res);
  });

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    tokenEndpoint: `${issuer}/token`,
    clients,
    organisations: { ...DEV_ORGANISATIONS },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
