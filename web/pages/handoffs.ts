/** The handoff board: every open handoff the organisation sends or receives, grouped by receiving service and status, overdue first. */
import type { HandoffSummary } from '../../server/coordinator/api';
import { urgency } from '../../server/dashboard/families-view';
import { countdown, statusText } from '../components/handoff';
import { layout, type PageContext } from '../components/layout';
import { html, type Html } from '../html';
import { formatDay } from '../i18n';

export interface BoardEntry {
  familyId: string;
  name?: string;
  service: string;
  title: string;
  handoff: HandoffSummary;
}

export interface HandoffBoard {
  today: string;
  entries: BoardEntry[];
}

/** The board's order: the status flow of a Task (https://hl7.org/fhir/R4/task.html#statemachine), held last. */
const STATUS_ORDER = ['requested', 'received', 'accepted', 'in-progress', 'on-hold'];

export function groupBoard(entries: BoardEntry[]): { service: string; status: string; entries: BoardEntry[] }[] {
  const groups = new Map<string, { service: string; status: string; entries: BoardEntry[] }>();
  for (const e of entries) {
    const status = e.handoff.held ? 'on-hold' : e.handoff.status;
    const key = `${e.service}\u0000${status}`;
    if (!groups.has(key)) groups.set(key, { service: e.service, status, entries: [] });
    groups.get(key)!.entries.push(e);
  }
  const left = (e: BoardEntry) => e.handoff.daysLeft ?? Number.POSITIVE_INFINITY;
  for (const g of groups.values()) g.entries.sort((a, b) => left(a) - left(b));
  const rank = (s: string) => (STATUS_ORDER.indexOf(s) + 1 || STATUS_ORDER.length + 1);
  const worst = (g: { entries: BoardEntry[] }) => left(g.entries[0]);
  // Overdue first: a group holding an overdue handoff comes before the others, then by service and status.
  return [...groups.values()].sort((a, b) => Number(worst(a) >= 0) - Number(worst(b) >= 0) || a.service.localeCompare(b.service) || rank(a.status) - rank(b.status));
}

export function handoffsPage(ctx: PageContext, board: HandoffBoard): Html {
  const { t, lang } = ctx;
  const groups = groupBoard(board.entries);
  const content = html`<h1>${t('board.title')}</h1>
<p>${t('board.intro')}</p>
${groups.length === 0
    ? html`<p>${t('board.none')}</p>`
    : groups.map(
        (g, i) => html`<section class="board-group" aria-labelledby="g-${i}"><h2 id="g-${i}">${t('board.group', { service: g.service, status: statusText(ctx, g.status) })} <span class="muted">(${g.entries.length})</span></h2>
<div class="table-wrap"><table><thead><tr><th scope="col">${t('board.col.family')}</th><th scope="col">${t('board.col.handoff')}</th><th scope="col">${t('board.col.opened')}</th><th scope="col">${t('board.col.deadline')}</th><th scope="col">${t('board.col.left')}</th></tr></thead><tbody>
${g.entries.map((e) => {
  const u = urgency(e.handoff, board.today);
  return html`<tr><th scope="row"><a href="/families/${e.familyId}">${e.name ?? e.familyId.slice(0, 8)}</a></th><td>${e.title}</td><td>${formatDay(lang, e.handoff.openedOn)}</td><td>${formatDay(lang, e.handoff.deadline)}</td><td><span class="handoff ${u ?? ''}"><strong>${countdown(ctx, e.handoff)}</strong></span></td></tr>`;
})}</tbody></table></div></section>`,
      )}`;
  return layout(ctx, { title: t('board.title'), nav: 'handoffs', live: true }, content);
}
