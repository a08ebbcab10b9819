/** My families: counts, filters and one row per family. */
import type { FamilyCounts, FamilyFilters, FamilyRow } from '../../server/dashboard/families-view';
import { urgency } from '../../server/dashboard/families-view';
import { handoffBadge } from '../components/handoff';
import { html, type Html } from '../html';
import { formatDay } from '../i18n';
import { layout, type PageContext } from '../components/layout';

export interface FamiliesPage {
  today: string;
  rows: FamilyRow[];
  total: number;
  counts: FamilyCounts;
  filters: FamilyFilters;
  /** Choices for the filters: id -> title. */
  phases: Record<string, string>;
  services: Record<string, string>;
  organisations: string[];
  /** Titles of services and handoffs, by id. */
  titles: (id: string) => string;
}

function select(name: string, label: string, value: string | undefined, options: [string, string][], anyText: string): Html {
  return html`<div class="field"><label for="f-${name}">${label}</label>
<select id="f-${name}" name="${name}"><option value="">${anyText}</option>${options.map(([v, text]) => html`<option value="${v}"${v === value ? html` selected` : ''}>${text}</option>`)}</select></div>`;
}

function filterForm(ctx: PageContext, page: FamiliesPage): Html {
  const { t } = ctx;
  const f = page.filters;
  const any = t('families.filter.any');
  return html`<form method="get" action="/families" class="filters" role="search" aria-labelledby="filters-h">
<h2 id="filters-h" class="visually-hidden">${t('families.filters')}</h2>
<div class="field wide"><label for="f-q">${t('families.filter.q')}</label><input id="f-q" name="q" type="search" value="${f.q ?? ''}"></div>
${select('phase', t('families.filter.phase'), f.phase, Object.entries(page.phases), any)}
${select('overdue', t('families.filter.overdue'), f.overdue, [['true', t('families.filter.yes')], ['false', t('families.filter.no')]], any)}
${select('service', t('families.filter.service'), f.service, Object.entries(page.services), any)}
${select('organisation', t('families.filter.organisation'), f.organisation, page.organisations.map((o) => [o, o.replace('Organization/', '')]), any)}
<div class="field narrow"><label for="f-within">${t('families.filter.within')}</label><input id="f-within" name="within" type="number" min="0" max="365" inputmode="numeric" value="${f.within ?? ''}"></div>
<div class="field"><label for="f-sort">${t('families.filter.sort')}</label><select id="f-sort" name="sort">
${(['next', 'overdue', 'deadline', 'family'] as const).map((s) => html`<option value="${s}"${s === f.sort ? html` selected` : ''}>${t(`families.sort.${s}`)}</option>`)}
</select></div>
<div class="actions"><button type="submit">${t('families.filter.apply')}</button> <a href="/families">${t('families.filter.reset')}</a></div>
</form>`;
}

function row(ctx: PageContext, page: FamiliesPage, r: FamilyRow): Html {
  const { t, lang } = ctx;
  const next = r.nextDue[0];
  return html`<tr data-family="${r.familyId}">
<th scope="row"><a href="/families/${r.familyId}">${r.name ?? r.familyId.slice(0, 8)}</a>${r.name ? html`<br><span class="muted">${r.familyId.slice(0, 8)}</span>` : ''}</th>
<td>${r.phase?.title ?? ''}</td>
<td>${next ? t('families.next', { date: formatDay(lang, next.target ?? next.nextSession ?? next.earliest), what: next.title, who: page.titles(next.deliveredBy) }) : ''}</td>
<td class="num${r.overdue.length > 0 ? ' late' : ''}">${r.overdue.length}</td>
<td>${r.openHandoffs.length ? html`<ul class="plain">${r.openHandoffs.map((h) => html`<li>${handoffBadge(ctx, page.titles(r.handoffServices[h.key] ?? h.handoff), h, urgency(h, page.today))}</li>`)}</ul>` : ''}</td>
<td>${r.openChecks.map((c) => html`<span class="tag">${c.check}</span> `)}</td>
<td class="orgs">${r.organisations.map((o) => o.replace('Organization/', '')).join(', ')}</td>
</tr>`;
}

export function familiesPage(ctx: PageContext, page: FamiliesPage): Html {
  const { t } = ctx;
  const c = page.counts;
  const content = html`<h1>${t('families.title')}</h1>
<section aria-labelledby="counts-h"><h2 id="counts-h" class="visually-hidden">${t('families.counts')}</h2>
<dl class="counts">
<div><dt>${t('families.count.families')}</dt><dd data-count="families">${c.families}</dd></div>
<div class="${c.overdueContacts > 0 ? 'late' : ''}"><dt>${t('families.count.overdue')}</dt><dd data-count="overdue">${c.overdueContacts}</dd></div>
<div class="${c.handoffsPastDeadline > 0 ? 'late' : ''}"><dt>${t('families.count.handoffsLate')}</dt><dd data-count="handoffs-late">${c.handoffsPastDeadline}</dd></div>
</dl></section>
${filterForm(ctx, page)}
<div class="table-wrap"><table class="families">
<caption>${t('families.table', { shown: page.rows.length, total: page.total })}</caption>
<thead><tr><th scope="col">${t('families.col.family')}</th><th scope="col">${t('families.col.phase')}</th><th scope="col">${t('families.col.next')}</th><th scope="col">${t('families.col.overdue')}</th><th scope="col">${t('families.col.handoffs')}</th><th scope="col">${t('families.col.checks')}</th><th scope="col">${t('families.col.organisations')}</th></tr></thead>
<tbody>${page.rows.length ? page.rows.map((r) => row(ctx, page, r)) : html`<tr><td colspan="7">${t('families.none')}</td></tr>`}</tbody>
</table></div>`;
  return layout(ctx, { title: t('families.title'), nav: 'families', live: true }, content);
}
