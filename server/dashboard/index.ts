/**
 * The coordinator dashboard's routes (pages in web/): login with the
 * organisation's OpenID provider, My families, one family, the handoff
 * board, the actions, live updates and the static assets. Every read and
 * write goes through the coordinator API and the FHIR API with the user's
 * token (api-client.ts); this router holds no access rules of its own
 * beyond "logged in" and CSRF.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Plan } from '../../pathways/plan';
import { messagePage, type PageContext } from '../../web/components/layout';
import type { Html } from '../../web/html';
import { translator, type Lang } from '../../web/i18n';
import { familiesPage } from '../../web/pages/families';
import { familyPage } from '../../web/pages/family';
import { handoffsPage, type BoardEntry } from '../../web/pages/handoffs';
import { ActionInputError, endPathway, markHandled, recordContact, recordScreening, startReferral } from './actions';
import { ApiError, LoginRequired, apiClient, type ApiClient } from './api-client';
import { applyFilters, countsOf, parseFilters } from './families-view';
import { LiveUpdates } from './live';
import { OidcLogin, type LoginSettings, type PendingLogin } from './login';
import { allFamilies, handoffDetails, motherNames, openSteps, readFamily, serviceTitles, timelineData, toRows } from './reads';
import { LANG_COOKIE, LOGIN_COOKIE, SESSION_COOKIE, SessionStore, languageOf, parseCookies, sameSecret, setCookie, type Session } from './session';
import type { FhirStore } from '../../fhir/store';

export interface DashboardOptions {
  /** Public base URL of the server (login callback, Secure cookies when https). */
  publicUrl: string;
  /** Where the dashboard calls the coordinator and FHIR APIs (this server, usually over loopback). */
  apiBaseUrl: string;
  login: Omit<LoginSettings, 'redirectUri' | 'postLogoutRedirectUri'>;
  store: Pick<FhirStore, 'changesAfter' | 'onChange'>;
  /** The pathway definitions by canonical (titles, instruments, handoffs a referral may start). */
  plans: (canonical: string) => Plan | undefined;
  /** Service id -> Organization reference (for referrals). */
  services: Record<string, string>;
  onError?: (error: Error) => void;
}

export interface Dashboard {
  router: express.Router;
  stop(): Promise<void>;
}

declare module 'express-serve-static-core' {
  interface Request {
    dashboardSession?: Session;
  }
}

const require = createRequire(__filename);
const VENDOR: Record<string, string> = {
  'htmx.min.js': join(dirname(require.resolve('htmx.org/package.json')), 'dist/htmx.min.js'),
  'sse.js': join(dirname(require.resolve('htmx-ext-sse/package.json')), 'dist/sse.js'),
  'vis-timeline-graph2d.min.js': join(dirname(require.resolve('vis-timeline/package.json')), 'standalone/umd/vis-timeline-graph2d.min.js'),
  'vis-timeline-graph2d.min.css': join(dirname(require.resolve('vis-timeline/package.json')), 'styles/vis-timeline-graph2d.min.css'),
};

const safeReturn = (value: unknown) => (typeof value === 'string' && value.startsWith('/') && !value.startsWith('//') && !value.includes('\\') ? value : '/families');

export function createDashboard(options: DashboardOptions): Dashboard {
  const secure = options.publicUrl.startsWith('https:');
  const login = new OidcLogin({ ...options.login, redirectUri: `${options.publicUrl}/auth/callback`, postLogoutRedirectUri: `${options.publicUrl}/auth/logged-out` });
  const sessions = new SessionStore();
  const pending = new Map<string, PendingLogin & { at: number }>();
  const live = new LiveUpdates(options.store, { onError: options.onError });
  const router = express.Router();

  const context = (req: Request): PageContext => {
    const lang: Lang = languageOf(req);
    const s = req.dashboardSession;
    return { lang, t: translator(lang), url: req.originalUrl, ...(s ? { user: { name: s.user.name }, csrf: s.csrf } : {}) };
  };
  const send = (res: Response, page: Html, status = 200) => {
    res.status(status).set({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'same-origin', 'x-frame-options': 'DENY' });
    res.send(page.text);
  };
  const api = (req: Request): ApiClient => apiClient(options.apiBaseUrl, req.dashboardSession!, login);
  const titlesFor = (canonicals: Iterable<string>) => serviceTitles(options.plans, canonicals);

  // --- assets: our own, and the libraries' files straight from node_modules (nothing is built or committed) ---
  router.use('/assets', express.static(join(__dirname, '../../web/assets'), { index: false, maxAge: '1h' }));
  router.get('/assets/vendor/:file', (req, res, next) => {
    const file = VENDOR[req.params.file as string];
    if (!file) return next();
    res.sendFile(file, { maxAge: '1d' });
  });

  router.use((req, _res, next) => {
    req.dashboardSession = sessions.get(parseCookies(req)[SESSION_COOKIE]);
    next();
  });

  // --- login and logout ---
  router.get('/auth/login', async (req, res, next) => {
    try {
      const { url, pending: login_ } = await login.start(safeReturn(req.query.return));
      for (const [key, p] of pending) if (Date.now() - p.at > 10 * 60_000) pending.delete(key);
      pending.set(login_.state, { ...login_, at: Date.now() });
      setCookie(res, LOGIN_COOKIE, login_.state, { secure, maxAgeSeconds: 600 });
      res.redirect(303, url);
    } catch (error) {
      next(error);
    }
  });

  router.get('/auth/callback', async (req, res) => {
    const state = parseCookies(req)[LOGIN_COOKIE];
    const started = state ? pending.get(state) : undefined;
    const ctx = context(req);
    if (!started) return send(res, messagePage(ctx, ctx.t('auth.failed.title'), ctx.t('auth.failed.body', { reason: 'no login was started in this browser, or it took too long' }), { href: '/auth/login', text: ctx.t('auth.login') }), 400);
    pending.delete(started.state);
    try {
      const tokens = await login.finish(new URL(req.originalUrl, options.publicUrl), started);
      const session = sessions.create({ subject: tokens.subject, name: tokens.name }, tokens);
      setCookie(res, LOGIN_COOKIE, '', { secure, maxAgeSeconds: 0 });
      setCookie(res, SESSION_COOKIE, session.id, { secure });
      res.redirect(303, started.returnTo);
    } catch (error) {
      options.onError?.(error as Error);
      send(res, messagePage(ctx, ctx.t('auth.failed.title'), ctx.t('auth.failed.body', { reason: (error as Error).message }), { href: '/auth/login', text: ctx.t('auth.login') }), 400);
    }
  });

  router.get('/auth/logged-out', (req, res) => {
    const ctx = context(req);
    send(res, messagePage(ctx, ctx.t('auth.loggedOut.title'), ctx.t('auth.loggedOut.body'), { href: '/auth/login', text: ctx.t('auth.login') }));
  });

  router.get('/lang', (req, res) => {
    const to = req.query.to === 'en' ? 'en' : 'nb';
    setCookie(res, LANG_COOKIE, to, { secure, maxAgeSeconds: 365 * 86_400 });
    res.redirect(303, safeReturn(req.query.back));
  });

  // --- everything below needs a session; every POST a CSRF token ---
  router.use((req, res, next) => {
    if (req.dashboardSession) return next();
    if (req.method === 'GET' && req.path !== '/events') return res.redirect(303, `/auth/login?return=${encodeURIComponent(req.originalUrl)}`);
    if (req.method === 'GET') return res.status(401).end();
    const ctx = context(req);
    send(res, messagePage(ctx, ctx.t('error.csrf.title'), ctx.t('error.csrf.body'), { href: '/auth/login', text: ctx.t('auth.login') }), 403);
  });
  router.use(express.urlencoded({ extended: false, limit: '20kb' }));
  router.use((req, res, next) => {
    if (req.method !== 'POST') return next();
    if (sameSecret((req.body as Record<string, string> | undefined)?._csrf, req.dashboardSession!.csrf)) return next();
    const ctx = context(req);
    send(res, messagePage(ctx, ctx.t('error.csrf.title'), ctx.t('error.csrf.body')), 403);
  });

  router.post('/auth/logout', async (req, res, next) => {
    const session = req.dashboardSession!;
    sessions.destroy(session.id);
    setCookie(res, SESSION_COOKIE, '', { secure, maxAgeSeconds: 0 });
    try {
      res.redirect(303, (await login.logoutUrl(session.tokens.idToken)) ?? '/auth/logged-out');
    } catch (error) {
      next(error);
    }
  });

  router.get('/', (_req, res) => res.redirect(303, '/families'));

  router.get('/events', (_req, res) => live.connect(res));

  router.get('/families', async (req, res, next) => {
    try {
      const client = api(req);
      const { today, families } = await allFamilies(client);
      const names = await motherNames(client, families.flatMap((f) => (f.patient ? [f.patient] : [])));
      const all = toRows(families, names, options.plans);
      const filters = parseFilters(req.query as Record<string, unknown>);
      const titles = titlesFor(new Set(families.map((f) => f.canonical)));
      const phases: Record<string, string> = {};
      const services: Record<string, string> = {};
      for (const f of families) {
        const plan = options.plans(f.canonical);
        for (const p of plan?.phases ?? []) phases[p.id] = p.title;
        for (const s of Object.values(plan?.services ?? {})) services[s.id] = s.title;
      }
      const organisations = [...new Set(families.flatMap((f) => f.organisations))].sort();
      send(res, familiesPage(context(req), { today, rows: applyFilters(all, filters), total: all.length, counts: countsOf(all), filters, phases, services, organisations, titles }));
    } catch (error) {
      next(error);
    }
  });

  router.get('/handoffs', async (req, res, next) => {
    try {
      const client = api(req);
      const { today, families } = await allFamilies(client);
      const names = await motherNames(client, families.flatMap((f) => (f.patient ? [f.patient] : [])));
      const rows = toRows(families, names, options.plans);
      const titles = titlesFor(new Set(families.map((f) => f.canonical)));
      const entries: BoardEntry[] = rows.flatMap((r) =>
        r.openHandoffs.map((h) => ({ familyId: r.familyId, ...(r.name ? { name: r.name } : {}), service: titles(r.handoffServices[h.key]), title: titles(h.handoff), handoff: h })),
      );
      send(res, handoffsPage(context(req), { today, entries }));
    } catch (error) {
      next(error);
    }
  });

  const DONE: Record<string, Parameters<PageContext['t']>[0]> = { contact: 'action.done.contact', screening: 'action.done.screening', end: 'action.done.end', referral: 'action.done.referral', handled: 'action.done.handled' };

  router.get('/families/:familyId', async (req, res, next) => {
    try {
      const ctx = context(req);
      const reads = await readFamily(api(req), req.params.familyId as string);
      const plan = options.plans(reads.family.canonical);
      const titles = titlesFor([reads.family.canonical]);
      const handoffs = handoffDetails(reads, plan, titles);
      const done = typeof req.query.done === 'string' ? DONE[req.query.done] : undefined;
      send(
        res,
        familyPage(ctx, {
          family: reads.family,
          ...(reads.name ? { name: reads.name } : {}),
          pathwayTitle: plan?.title ?? reads.family.canonical,
          activities: reads.carePlan.activity ?? [],
          handoffs,
          consents: reads.consents,
          communications: reads.communications,
          timeline: timelineData(reads, handoffs),
          openSteps: openSteps(reads.carePlan),
          instruments: Object.values(plan?.instruments ?? {}).map((i) => ({ id: i.id, title: i.title, min: i.min, max: i.max })),
          referrals: Object.values(plan?.handoffs ?? {}).filter((h) => h.startedBy.includes('referral') && options.services[h.to]).map((h) => ({ id: h.id, title: h.title })),
          titles,
          ...(done ? { flash: ctx.t(done) } : {}),
          ...(typeof req.query.failed === 'string' ? { error: req.query.failed.slice(0, 300) } : {}),
        }),
      );
    } catch (error) {
      next(error);
    }
  });

  /** An action: read the family through the API (404 if not the user's), act, and go back to the family's page. */
  const action = (name: string, act: (client: ApiClient, family: Awaited<ReturnType<typeof readFamily>>, body: Record<string, string>, req: Request) => Promise<void>) => async (req: Request, res: Response, next: NextFunction) => {
    const familyId = req.params.familyId as string;
    try {
      const client = api(req);
      const family = await readFamily(client, familyId);
      await act(client, family, (req.body ?? {}) as Record<string, string>, req);
      res.redirect(303, `/families/${encodeURIComponent(familyId)}?done=${name}`);
    } catch (error) {
      if (error instanceof ActionInputError || (error instanceof ApiError && error.status !== 404)) {
        const message = error instanceof ApiError ? context(req).t('error.api', { status: error.status, message: error.message }) : error.message;
        return res.redirect(303, `/families/${encodeURIComponent(familyId)}?failed=${encodeURIComponent(message)}`);
      }
      next(error);
    }
  };
  const planOf = (f: Awaited<ReturnType<typeof readFamily>>) => options.plans(f.family.canonical);

  router.post('/families/:familyId/contact', action('contact', (client, f, body) => recordContact(client, { familyId: f.family.familyId, patient: f.family.patient!, carePlan: f.carePlan, plan: planOf(f), step: body.step ?? '', outcome: body.outcome ?? '', date: body.date ?? '' })));
  router.post('/families/:familyId/screening', action('screening', (client, f, body) => recordScreening(client, { patient: f.family.patient!, plan: planOf(f), instrument: body.instrument ?? '', score: body.score ?? '', date: body.date ?? '' })));
  router.post('/families/:familyId/end', action('end', (client, f, body) => endPathway(client, { patient: f.family.patient!, reason: body.reason ?? '', today: f.family.today })));
  router.post('/families/:familyId/referral', action('referral', (client, f, body) => startReferral(client, { patient: f.family.patient!, plan: planOf(f), handoff: body.handoff ?? '', services: options.services, today: f.family.today })));
  router.post('/families/:familyId/communications/:communicationId/handled', action('handled', (client, _f, _body, req) => markHandled(client, req.params.communicationId as string)));

  router.use((req, res) => {
    const ctx = context(req);
    send(res, messagePage(ctx, ctx.t('error.notFound.title'), ctx.t('error.notFound.body', { what: req.path })), 404);
  });

  router.use((error: Error, req: Request, res: Response, _next: NextFunction) => {
    const ctx = context(req);
    if (error instanceof LoginRequired) {
      // The tokens can no longer be renewed: log in again (a form's POST is not repeated; the user returns to the list).
      if (req.dashboardSession) sessions.destroy(req.dashboardSession.id);
      return res.redirect(303, `/auth/login?return=${encodeURIComponent(req.method === 'GET' ? req.originalUrl : '/families')}`);
    }
    if (error instanceof ApiError && error.status === 404) return send(res, messagePage(ctx, ctx.t('error.notFound.title'), ctx.t('error.notFound.body', { what: req.path })), 404);
    options.onError?.(error);
    const status = error instanceof ApiError ? (error.status === 403 ? 403 : 502) : 500;
    send(res, messagePage(ctx, ctx.t('error.title'), error instanceof ApiError ? ctx.t('error.api', { status: error.status, message: error.message }) : ctx.t('error.title')), status);
  });

  return { router, stop: () => live.stop() };
}
