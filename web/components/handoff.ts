/** A handoff's status and deadline countdown, coloured by urgency (colour is never the only signal: the text says it). */
import type { HandoffSummary } from '../../server/coordinator/api';
import { html, type Html } from '../html';
import type { PageContext } from './layout';

export function countdown(ctx: PageContext, h: HandoffSummary): string {
  const { t } = ctx;
  if (h.held) return t('handoff.held', { reason: h.held });
  if (h.daysLeft === undefined) return '';
  if (h.daysLeft < 0) return t('handoff.overdue', { days: -h.daysLeft });
  if (h.daysLeft === 0) return t('handoff.dueToday');
  return h.daysLeft === 1 ? t('handoff.dayLeft') : t('handoff.daysLeft', { days: h.daysLeft });
}

export function statusText(ctx: PageContext, status: string): string {
  const key = `handoff.status.${status}` as Parameters<PageContext['t']>[0];
  return ctx.t(key);
}

export function handoffBadge(ctx: PageContext, service: string, h: HandoffSummary, urgency: 'overdue' | 'soon' | undefined): Html {
  const left = countdown(ctx, h);
  return html`<span class="handoff ${urgency ?? ''}">${service}: ${statusText(ctx, h.status)}${left ? html` – <strong>${left}</strong>` : ''}${h.escalations ? html` (${ctx.t('handoff.escalated', { count: h.escalations })})` : ''}</span>`;
}
