/**
 * The page shell: skip link, header with the menu, the user and logout,
 * the language switch, and the live region. With scripts, htmx listens to
 * /events (server-sent events) and re-reads the page's #live part when a
 * workflow changes something; without them every page still works.
 */
import { html, type Html } from '../html';
import type { Lang, Translate } from '../i18n';
import type { MessageKey } from '../i18n/nb';

export interface PageContext {
  lang: Lang;
  t: Translate;
  /** The logged-in user; absent on the login and logout pages. */
  user?: { name: string };
  csrf?: string;
  /** The page's own URL (path and query), re-read on live updates. */
  url: string;
}

export interface PageOptions {
  title: string;
  /** Which menu item is this page. */
  nav?: 'families' | 'handoffs';
  /** Extra stylesheets and scripts (the timeline's). */
  styles?: string[];
  scripts?: string[];
  /** Re-read #live when the server says something changed. */
  live?: boolean;
}

export const csrfField = (ctx: PageContext) => html`<input type="hidden" name="_csrf" value="${ctx.csrf ?? ''}">`;

function navLink(ctx: PageContext, href: string, key: MessageKey, current: boolean): Html {
  return html`<li><a href="${href}"${current ? html` aria-current="page"` : ''}>${ctx.t(key)}</a></li>`;
}

export function layout(ctx: PageContext, options: PageOptions, content: Html): Html {
  const { t } = ctx;
  const other = t('nav.languageCode');
  const live = options.live && ctx.user;
  return html`<!doctype html>
<html lang="${ctx.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false}'>
<title>${t('app.title', { page: options.title })}</title>
<link rel="stylesheet" href="/assets/dashboard.css">
${(options.styles ?? []).map((href) => html`<link rel="stylesheet" href="${href}">`)}
</head>
<body${live ? html` hx-ext="sse" sse-connect="/events"` : ''}>
<a class="skip" href="#main">${t('nav.skip')}</a>
<header class="top">
  <a class="brand" href="/families">${t('app.name')}</a>
  ${ctx.user
    ? html`<nav aria-label="${t('nav.label')}"><ul>
    ${navLink(ctx, '/families', 'nav.families', options.nav === 'families')}
    ${navLink(ctx, '/handoffs', 'nav.handoffs', options.nav === 'handoffs')}
  </ul></nav>`
    : ''}
  <div class="who">
    <a href="/lang?to=${other}&amp;back=${encodeURIComponent(ctx.url)}" lang="${other}" hreflang="${other}">${t('nav.language')}</a>
    ${ctx.user
      ? html`<span>${t('nav.loggedInAs', { name: ctx.user.name })}</span>
    <form method="post" action="/auth/logout" class="inline">${csrfField(ctx)}<button type="submit" class="link">${t('nav.logout')}</button></form>`
      : ''}
  </div>
</header>
<main id="main" tabindex="-1">
${live ? html`<div id="live" hx-get="${ctx.url}" hx-trigger="sse:changed" hx-select="#live" hx-swap="outerHTML" hx-sync="this:replace">${content}</div>` : content}
</main>
${live ? html`<div id="live-status" class="visually-hidden" role="status" aria-live="polite"></div>` : ''}
<script src="/assets/vendor/htmx.min.js"></script>
<script src="/assets/vendor/sse.js"></script>
${(options.scripts ?? []).map((src) => html`<script src="${src}"></script>`)}
<script src="/assets/dashboard.js"></script>
</body>
</html>`;
}

/** A small page with a heading and a paragraph (errors, logged out). */
export function messagePage(ctx: PageContext, title: string, body: string, link?: { href: string; text: string }): Html {
  return layout(ctx, { title }, html`<h1>${title}</h1><p>${body}</p>${link ? html`<p><a class="button" href="${link.href}">${link.text}</a></p>` : ''}`);
}
