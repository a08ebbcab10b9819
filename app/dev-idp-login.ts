/**
 * The dev IdP's people and their login page (development only): the
 * coordinator dashboard logs in with the authorization code flow + PKCE, so
 * the built-in provider needs users, a page to pick one, and a client for the
 * dashboard. A real IdP (HelseID) authenticates people with ID-porten or a
 * smart card; here a person picks a demo user. Loopback only, no passwords.
 *
 * The users carry the same HelseID-style organisation claims and Forløp role
 * as the demo clients, so the API decides what each sees exactly as for a
 * system client (server/auth/organisation-access.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DASHBOARD_API_SCOPES } from '../server/dashboard/login';

export interface DemoUser {
  accountId: string;
  name: string;
  description: string;
  orgnrParent: string;
  orgnrChild?: string;
  role: 'coordinator';
  /** The SMART scopes the dashboard is granted for this user. */
  scopes: string[];
}

/** The coordinator's scopes: reading everything of the families it may see, and the writes its dashboard actions make. */
const COORDINATOR_SCOPES = DASHBOARD_API_SCOPES;

export const DEMO_USERS: DemoUser[] = [
  { accountId: 'koordinator', name: 'Kari Koordinator', description: 'Forløpskoordinator, Sarpsborg kommune', orgnrParent: '910000012', role: 'coordinator', scopes: COORDINATOR_SCOPES },
  {
    accountId: 'koordinator-fredrikstad',
    name: 'Frida Fredriksen',
    description: 'Forløpskoordinator, Fredrikstad kommune (another municipality)',
    orgnrParent: '910000047',
    role: 'coordinator',
    scopes: COORDINATOR_SCOPES,
  },
];

export const DASHBOARD_CLIENT_ID = 'forlop-dashboard';
export const devDashboardSecret = () => 'dev-secret-forlop-dashboard';

/** Every scope a dashboard user may be granted (the resource server's list; each user's grant narrows it). */
export const DASHBOARD_SCOPES = [...new Set(DEMO_USERS.flatMap((u) => u.scopes))];

/** oidc-provider metadata of the dashboard's client: a confidential web client, code flow with PKCE. */
export function dashboardClientMetadata(redirectUris: string[], postLogoutRedirectUris: string[]): Record<string, unknown> {
  return {
    client_id: DASHBOARD_CLIENT_ID,
    client_secret: devDashboardSecret(),
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogoutRedirectUris,
    id_token_signed_response_alg: 'ES256',
  };
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="nb"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1b1f24}
main{max-width:32rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;border:1px solid #c9ced6}
h1{font-size:1.4rem;margin-top:0} p.note{color:#3d4550}
ul{list-style:none;padding:0} li{margin:.6rem 0}
button{width:100%;text-align:left;padding:.8rem 1rem;font:inherit;border:2px solid #1d4f91;border-radius:6px;background:#fff;color:#1b1f24;cursor:pointer}
button:hover,button:focus{background:#e8f0fb;outline:3px solid #1d4f91;outline-offset:2px}
button strong{display:block;color:#1d4f91}
</style></head>
<body><main>${body}</main></body></html>`;
}

/** The login page: one button per demo user (a form per user, so it works without scripts). */
export function loginPage(action: string, clientId: string): string {
  const users = DEMO_USERS.map(
    (u) => `<li><form method="post" action="${esc(action)}"><input type="hidden" name="user" value="${esc(u.accountId)}">
<button type="submit" data-user="${esc(u.accountId)}"><strong>${esc(u.accountId)}</strong> ${esc(u.name)}, ${esc(u.description)}</button></form></li>`,
  ).join('\n');
  return page(
    'Logg inn – Forløp utviklings-IdP',
    `<h1>Logg inn i Forløp</h1>
<p class="note">Utviklings-IdP: velg en demobruker. Ingen passord; aldri i produksjon. (Development identity provider: pick a demo user.)</p>
<p>Innlogging for <strong>${esc(clientId)}</strong>:</p>
<ul>${users}</ul>`,
  );
}

/** The confirmation page of RP-initiated logout, submitted at once (the user asked the dashboard to log out). */
export function logoutPage(form: string): string {
  return page('Logger ut – Forløp utviklings-IdP', `<h1>Logger ut</h1>${form}<p><button type="submit" form="op.logoutForm" name="logout" value="yes">Logg ut</button></p>
<script>document.getElementById('op.logoutForm').insertAdjacentHTML('beforeend','<input type="hidden" name="logout" value="yes">');document.getElementById('op.logoutForm').submit()</script>`);
}

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 10_000) throw new Error('login form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// The small part of oidc-provider used here (it ships no types).
interface InteractionProvider {
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<{ uid: string; prompt: { name: string }; params: Record<string, unknown> }>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: unknown, options?: unknown): Promise<void>;
}

/**
 * Handles `<mount>/interaction/<uid>` (GET: the login page; POST: the chosen
 * user). Returns false for any other path, which the provider then serves.
 */
export async function handleInteraction(provider: InteractionProvider, mount: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const match = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec((req.url ?? '').split('?')[0]);
  if (!match) return false;
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    res.end(loginPage(`${mount}/interaction/${details.uid}`, String(details.params.client_id ?? '')));
    return true;
  }
  if (req.method === 'POST') {
    const chosen = (await formBody(req)).get('user');
    const user = DEMO_USERS.find((u) => u.accountId === chosen);
    if (!user) {
      res.statusCode = 400;
      res.end('Unknown demo user: pick one of the buttons on the login page');
      return true;
    }
    await provider.interactionFinished(req, res, { login: { accountId: user.accountId } }, { mergeWithLastSubmission: false });
    return true;
  }
  res.statusCode = 405;
  res.end();
  return true;
}

/** oidc-provider's findAccount: the demo users, with their name as the only profile claim. */
export async function findDemoAccount(_ctx: unknown, id: string) {
  const user = DEMO_USERS.find((u) => u.accountId === id);
  if (!user) return undefined;
  return { accountId: user.accountId, claims: async () => ({ sub: user.accountId, name: user.name }) };
}
