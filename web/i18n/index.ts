/**
 * The dashboard's texts (one catalogue per language: nb.ts, en.ts) and its
 * dates, always shown in Europe/Oslo (DESIGN.md: day-level dates in Oslo).
 */
import { en } from './en';
import { nb, type MessageKey } from './nb';

export type Lang = 'nb' | 'en';
export const LANGS: readonly Lang[] = ['nb', 'en'];
const CATALOGUES: Record<Lang, Record<MessageKey, string>> = { nb, en };

export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string;

export function translator(lang: Lang): Translate {
  const catalogue = CATALOGUES[lang];
  return (key, values) => (catalogue[key] ?? key).replace(/\{(\w+)\}/g, (whole, name: string) => (values && name in values ? String(values[name]) : whole));
}

const locale = (lang: Lang) => (lang === 'nb' ? 'nb-NO' : 'en-GB');
// Formatters are costly to make and reused for every date on a page of 1,000 families.
const dayFormats = new Map(LANGS.map((l) => [l, new Intl.DateTimeFormat(locale(l), { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' })]));
const instantFormats = new Map(LANGS.map((l) => [l, new Intl.DateTimeFormat(locale(l), { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Europe/Oslo' })]));

/** A day (YYYY-MM-DD, already an Oslo day) as the language writes it, e.g. "3. des. 2026". */
export function formatDay(lang: Lang, day: string | undefined): string {
  if (!day) return '';
  const [y, m, d] = day.slice(0, 10).split('-').map(Number);
  return dayFormats.get(lang)!.format(Date.UTC(y, m - 1, d));
}

/** An instant as its date and time in Oslo. */
export function formatInstant(lang: Lang, instant: string | number | undefined): string {
  if (instant === undefined || instant === '') return '';
  return instantFormats.get(lang)!.format(new Date(instant));
}

export type { MessageKey };
