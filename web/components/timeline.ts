/**
 * The family's timeline from pregnancy to age 3: the data for vis-timeline
 * (drawn in the browser by web/assets/dashboard.js: planned contacts as
 * bars over their windows, what happened as marks, handoffs as bars to
 * their deadline) and, beside it, the same as a text list for screen
 * readers and for anyone without scripts.
 */
import { html, jsonScript, type Html } from '../html';
import { formatDay } from '../i18n';
import type { PageContext } from './layout';

export interface TimelineItem {
  id: string;
  group: 'planned' | 'happened' | 'handoffs';
  content: string;
  start: string;
  end?: string;
  /** Drawn as: range (a window), point (a mark), background (the phase of life). */
  type: 'range' | 'point' | 'box' | 'background';
  /** held, missed, overdue, planned, screening, handoff, escalation, exit, note, done, cancelled */
  className: string;
  title?: string;
}

export interface TimelineData {
  items: TimelineItem[];
  /** The span shown first, and the whole span from enrolment to age 3. */
  window: { start: string; end: string };
  span: { start: string; end: string };
  today: string;
}

export function timeline(ctx: PageContext, data: TimelineData): Html {
  const { t, lang } = ctx;
  const groups = { planned: t('family.timeline.planned'), happened: t('family.timeline.happened'), handoffs: t('family.handoffs') };
  const happened = data.items.filter((i) => i.group !== 'planned').sort((a, b) => a.start.localeCompare(b.start));
  const planned = data.items.filter((i) => i.group === 'planned').sort((a, b) => a.start.localeCompare(b.start));
  return html`<section aria-labelledby="timeline-h" class="timeline">
<h2 id="timeline-h">${t('family.timeline')}</h2>
<div class="timeline-grid">
<figure class="timeline-chart-wrap">
<div id="timeline-chart" class="timeline-chart" aria-hidden="true"></div>
<figcaption>${t('family.timeline.chart')}</figcaption>
<script type="application/json" id="timeline-data">${jsonScript({ ...data, groups })}</script>
</figure>
<div class="timeline-text" tabindex="0" role="region" aria-labelledby="timeline-list-h">
<h3 id="timeline-list-h">${t('family.timeline.list')}</h3>
${happened.length
    ? html`<ol class="events">${happened.map((i) => html`<li class="ev-${i.className}"><time datetime="${i.start}">${formatDay(lang, i.start)}</time> ${i.content}${i.end ? html` (→ ${formatDay(lang, i.end)})` : ''}</li>`)}</ol>`
    : html`<p>${t('family.timeline.empty')}</p>`}
<h3>${t('family.timeline.planned')}</h3>
<ol class="events">${planned.map((i) => html`<li class="ev-${i.className}"><time datetime="${i.start}">${formatDay(lang, i.start)}</time>${i.end ? html`–<time datetime="${i.end}">${formatDay(lang, i.end)}</time>` : ''} ${i.content}${i.title ? html` (${i.title})` : ''}</li>`)}</ol>
</div>
</div>
</section>`;
}
