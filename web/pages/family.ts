/** One family: summary, timeline, CarePlan activities, handoffs with their Task history, consents, Communications, and the actions. */
import type { CarePlanActivity, Communication, Consent, Task } from '@medplum/fhirtypes';
import type { FamilySummary } from '../../server/coordinator/api';
import { urgency } from '../../server/dashboard/families-view';
import { countdown, statusText } from '../components/handoff';
import { csrfField, layout, type PageContext } from '../components/layout';
import { timeline, type TimelineData } from '../components/timeline';
import { html, type Html } from '../html';
import { formatDay, formatInstant } from '../i18n';

export interface FamilyDetail extends FamilySummary {
  today: string;
  anchors: { enrolment: string; dueDate?: string; birth?: string };
  closed?: { on: string; reason: string };
  timeline: { on: string; what: string; step?: string }[];
}

export interface HandoffDetail {
  key: string;
  title: string;
  service: string;
  task?: Task;
  history: { versionId: number; lastUpdated: string; status: string; note?: string }[];
  summary?: FamilySummary['openHandoffs'][number];
}

export interface FamilyPage {
  family: FamilyDetail;
  name?: string;
  pathwayTitle: string;
  activities: CarePlanActivity[];
  handoffs: HandoffDetail[];
  consents: Consent[];
  communications: Communication[];
  timeline: TimelineData;
  /** Open contact/screening steps the coordinator may record (key, title). */
  openSteps: { key: string; title: string }[];
  instruments: { id: string; title: string; min: number; max: number }[];
  /** Handoffs the definition lets a referral start (id, title). */
  referrals: { id: string; title: string }[];
  titles: (id: string) => string;
  flash?: string;
  error?: string;
}

const HANDLED_TAG = 'https://forlop.no/fhir/CodeSystem/communication-handling';
export const isHandled = (c: Communication) => c.meta?.tag?.some((tag) => tag.system === HANDLED_TAG && tag.code === 'handled') ?? false;
export const handledTag = { system: HANDLED_TAG, code: 'handled', display: 'Handled by the coordinator' };

function summary(ctx: PageContext, page: FamilyPage): Html {
  const { t, lang } = ctx;
  const f = page.family;
  const statusKey = f.status === 'paused' ? 'family.status.paused' : f.status === 'closed' ? 'family.status.closed' : 'family.status.active';
  return html`<dl class="facts">
<div><dt>${t('family.pathway')}</dt><dd>${page.pathwayTitle}</dd></div>
<div><dt>${t('family.phase')}</dt><dd>${f.phase?.title ?? '–'}</dd></div>
<div><dt>${t('family.status')}</dt><dd>${t(statusKey)}${f.closed ? html` – ${t('family.closed', { date: formatDay(lang, f.closed.on), reason: f.closed.reason })}` : ''}</dd></div>
<div><dt>${t('family.enrolment')}</dt><dd>${formatDay(lang, f.anchors.enrolment)}</dd></div>
${f.anchors.dueDate ? html`<div><dt>${t('family.dueDate')}</dt><dd>${formatDay(lang, f.anchors.dueDate)}</dd></div>` : ''}
${f.anchors.birth ? html`<div><dt>${t('family.birth')}</dt><dd>${formatDay(lang, f.anchors.birth)}</dd></div>` : ''}
<div class="${f.overdue.length ? 'late' : ''}"><dt>${t('families.col.overdue')}</dt><dd data-count="family-overdue">${f.overdue.length}</dd></div>
</dl>`;
}

function activities(ctx: PageContext, page: FamilyPage): Html {
  const { t, lang } = ctx;
  return html`<section aria-labelledby="act-h"><h2 id="act-h">${t('family.activities')}</h2>
<div class="table-wrap"><table><thead><tr><th scope="col">${t('family.activity.title')}</th><th scope="col">${t('family.activity.state')}</th><th scope="col">${t('family.activity.window')}</th><th scope="col">${t('family.activity.performer')}</th></tr></thead>
<tbody>${page.activities.map((a) => {
    const state = a.detail?.statusReason?.coding?.[0]?.code ?? a.detail?.status ?? '';
    const period = a.detail?.scheduledPeriod ?? a.detail?.scheduledTiming?.repeat?.boundsPeriod;
    return html`<tr class="state-${state}"><th scope="row">${a.detail?.description ?? ''}</th><td>${state}${a.detail?.statusReason?.text ? html` (${a.detail.statusReason.text})` : ''}</td><td>${period?.start ? formatDay(lang, period.start) : ''}${period?.end ? html` – ${formatDay(lang, period.end)}` : ''}</td><td>${(a.detail?.performer ?? []).map((p) => p.reference?.replace('Organization/', '') ?? p.display ?? '').join(', ')}</td></tr>`;
  })}</tbody></table></div></section>`;
}

function handoffs(ctx: PageContext, page: FamilyPage): Html {
  const { t, lang } = ctx;
  return html`<section aria-labelledby="ho-h"><h2 id="ho-h">${t('family.handoffs')}</h2>
${page.handoffs.length === 0
    ? html`<p>${t('family.handoffs.none')}</p>`
    : page.handoffs.map(
        (h) => html`<article class="card handoff-card"><h3>${h.title} → ${h.service}</h3>
<p>${statusText(ctx, h.task?.status ?? h.summary?.status ?? '')}${h.summary?.deadline ? html` · ${t('board.col.deadline')} ${formatDay(lang, h.summary.deadline)}` : ''}${h.summary ? html` <span class="handoff ${urgency(h.summary, page.family.today) ?? ''}"><strong>${countdown(ctx, h.summary)}</strong></span>` : ''}</p>
${h.history.length ? html`<h4>${t('family.handoff.history')}</h4><ol class="history">${h.history.map((v) => html`<li>${t('family.handoff.version', { version: v.versionId, date: formatInstant(lang, v.lastUpdated), status: statusText(ctx, v.status) })}${v.note ? html` – ${v.note}` : ''}</li>`)}</ol>` : ''}
</article>`,
      )}
</section>`;
}

function consents(ctx: PageContext, page: FamilyPage): Html {
  const { t, lang } = ctx;
  return html`<section aria-labelledby="co-h"><h2 id="co-h">${t('family.consents')}</h2>
${page.consents.length === 0
    ? html`<p>${t('family.consents.none')}</p>`
    : html`<div class="table-wrap"><table><thead><tr><th scope="col">${t('family.consent.basis')}</th><th scope="col">${t('family.consent.status')}</th><th scope="col">${t('family.consent.date')}</th><th scope="col">${t('family.consent.scope')}</th></tr></thead><tbody>
${page.consents.map((c) => {
  const basis = c.policy?.[0]?.uri ?? c.policyRule?.coding?.[0]?.display ?? c.policyRule?.coding?.[0]?.code ?? c.category?.[0]?.coding?.[0]?.code ?? '';
  const scope = c.provision?.actor?.map((a) => a.reference?.reference?.replace('Organization/', '')).filter(Boolean).join(' → ') ?? '';
  return html`<tr><th scope="row">${basis}</th><td>${c.status}</td><td>${formatDay(lang, c.dateTime)}</td><td>${scope}</td></tr>`;
})}</tbody></table></div>`}
</section>`;
}

function communications(ctx: PageContext, page: FamilyPage): Html {
  const { t, lang } = ctx;
  return html`<section aria-labelledby="cm-h"><h2 id="cm-h">${t('family.communications')}</h2>
${page.communications.length === 0
    ? html`<p>${t('family.communications.none')}</p>`
    : html`<ul class="plain messages">${page.communications.map(
        (c) => html`<li class="card${c.priority === 'urgent' ? ' urgent' : ''}"><p><time datetime="${c.sent ?? ''}">${formatDay(lang, c.sent)}</time> ${c.payload?.map((p) => p.contentString).join(' ') ?? ''}</p>
${isHandled(c)
  ? html`<p class="ok">✓ ${t('family.communication.handled')}</p>`
  : html`<form method="post" action="/families/${page.family.familyId}/communications/${c.id ?? ''}/handled">${csrfField(ctx)}<button type="submit">${t('family.communication.markHandled')}</button></form>`}
</li>`,
      )}</ul>`}
</section>`;
}

function actions(ctx: PageContext, page: FamilyPage): Html {
  const { t } = ctx;
  const id = page.family.familyId;
  if (page.family.status === 'closed') return html``;
  return html`<section aria-labelledby="ac-h" class="actions-panel"><h2 id="ac-h">${t('family.actions')}</h2>
<div class="forms">
<form method="post" action="/families/${id}/contact" class="card"><fieldset><legend>${t('action.contact')}</legend>${csrfField(ctx)}
${page.openSteps.length
    ? html`<div class="field"><label for="a-step">${t('action.contact.step')}</label><select id="a-step" name="step">${page.openSteps.map((s) => html`<option value="${s.key}">${s.title}</option>`)}</select></div>
<div class="field"><label for="a-outcome">${t('action.contact.outcome')}</label><select id="a-outcome" name="outcome"><option value="held">${t('action.contact.held')}</option><option value="missed">${t('action.contact.missed')}</option></select></div>
<div class="field"><label for="a-date">${t('action.contact.date')}</label><input id="a-date" name="date" type="date" value="${page.family.today}" required></div>
<button type="submit">${t('action.contact.submit')}</button>`
    : html`<p>${t('action.none')}</p>`}
</fieldset></form>
${page.instruments.length
    ? html`<form method="post" action="/families/${id}/screening" class="card"><fieldset><legend>${t('action.screening')}</legend>${csrfField(ctx)}
<div class="field"><label for="s-instrument">${t('action.screening.instrument')}</label><select id="s-instrument" name="instrument">${page.instruments.map((i) => html`<option value="${i.id}">${i.title} (${i.min}–${i.max})</option>`)}</select></div>
<div class="field"><label for="s-score">${t('action.screening.score')}</label><input id="s-score" name="score" type="number" inputmode="numeric" min="0" max="100" required></div>
<div class="field"><label for="s-date">${t('action.contact.date')}</label><input id="s-date" name="date" type="date" value="${page.family.today}" required></div>
<button type="submit">${t('action.screening.submit')}</button></fieldset></form>`
    : ''}
${page.referrals.length
    ? html`<form method="post" action="/families/${id}/referral" class="card"><fieldset><legend>${t('action.referral')}</legend>${csrfField(ctx)}
<div class="field"><label for="r-handoff">${t('action.referral.handoff')}</label><select id="r-handoff" name="handoff">${page.referrals.map((r) => html`<option value="${r.id}">${r.title}</option>`)}</select></div>
<button type="submit">${t('action.referral.submit')}</button></fieldset></form>`
    : ''}
<form method="post" action="/families/${id}/end" class="card"><fieldset><legend>${t('action.end')}</legend>${csrfField(ctx)}
<div class="field"><label for="e-reason">${t('action.end.reason')}</label><input id="e-reason" name="reason" type="text" maxlength="200" required></div>
<button type="submit" class="danger">${t('action.end.submit')}</button></fieldset></form>
</div></section>`;
}

export function familyPage(ctx: PageContext, page: FamilyPage): Html {
  const { t } = ctx;
  const f = page.family;
  const title = page.name ?? t('family.title', { id: f.familyId.slice(0, 8) });
  const content = html`<p><a href="/families">← ${t('family.back')}</a></p>
<h1>${title}</h1>
<p class="muted">${f.familyId}</p>
${page.flash ? html`<p class="flash ok" role="status">${page.flash}</p>` : ''}
${page.error ? html`<p class="flash error" role="alert">${page.error}</p>` : ''}
${summary(ctx, page)}
${timeline(ctx, page.timeline)}
${actions(ctx, page)}
${handoffs(ctx, page)}
${communications(ctx, page)}
${activities(ctx, page)}
${consents(ctx, page)}`;
  return layout(ctx, { title, nav: 'families', live: true, styles: ['/assets/vendor/vis-timeline-graph2d.min.css'], scripts: ['/assets/vendor/vis-timeline-graph2d.min.js'] }, content);
}
