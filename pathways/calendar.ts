/**
 * Pure date helpers for care pathways, safe inside Temporal workflow code (no
 * Node, no Intl, no clock: every instant is an argument).
 *
 * Days are ISO dates (YYYY-MM-DD) in Europe/Oslo, as DESIGN.md decides.
 * Working days skip weekends and Norwegian public holidays
 * (helligdager, lov om helligdager og helligdagsfred §1, and 1 May and 17 May
 * by lov om 1. og 17. mai som høgtidsdager); the Easter-dependent ones follow
 * the Gregorian computus. Legal deadlines in working days (e.g. pasient- og
 * brukerrettighetsloven §2-2: a referral assessed within 10 working days) use
 * addWorkingDays.
 */
export type IsoDate = string;

const DAY_MS = 86_400_000;

function parse(date: IsoDate): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) throw new TypeError(`'${date}' is not an ISO date (YYYY-MM-DD)`);
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (format(ms) !== date) throw new TypeError(`'${date}' is not a valid calendar date`);
  return ms;
}

function format(ms: number): IsoDate {
  return new Date(ms).toISOString().slice(0, 10);
}

export function addDays(date: IsoDate, days: number): IsoDate {
  return format(parse(date) + days * DAY_MS);
}

export function addWeeks(date: IsoDate, weeks: number): IsoDate {
  return addDays(date, weeks * 7);
}

/** Calendar months; the day is clamped to the month's length (31 Jan + 1 month = 28/29 Feb). */
export function addMonths(date: IsoDate, months: number): IsoDate {
  const ms = parse(date);
  const d = new Date(ms);
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  return format(Date.UTC(target.getUTCFullYear(), target.getUTCMonth(), Math.min(d.getUTCDate(), lastDay)));
}

export function daysBetween(from: IsoDate, to: IsoDate): number {
  return Math.round((parse(to) - parse(from)) / DAY_MS);
}

/** 0 = Sunday ... 6 = Saturday. */
export function weekday(date: IsoDate): number {
  return new Date(parse(date)).getUTCDay();
}

/** Easter Sunday (Gregorian computus, the anonymous "Meeus/Jones/Butcher" algorithm). */
export function easterSunday(year: number): IsoDate {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return format(Date.UTC(year, month - 1, day));
}

/** Norwegian public holidays of a year, by date, with their names. */
export function publicHolidays(year: number): Map<IsoDate, string> {
  const easter = easterSunday(year);
  const y = String(year).padStart(4, '0');
  return new Map<IsoDate, string>([
    [`${y}-01-01`, '1. nyttårsdag'],
    [addDays(easter, -3), 'Skjærtorsdag'],
    [addDays(easter, -2), 'Langfredag'],
    [easter, '1. påskedag'],
    [addDays(easter, 1), '2. påskedag'],
    [`${y}-05-01`, 'Arbeidernes dag'],
    [`${y}-05-17`, 'Grunnlovsdag'],
    [addDays(easter, 39), 'Kristi himmelfartsdag'],
    [addDays(easter, 49), '1. pinsedag'],
    [addDays(easter, 50), '2. pinsedag'],
    [`${y}-12-25`, '1. juledag'],
    [`${y}-12-26`, '2. juledag'],
  ]);
}

const holidayCache = new Map<number, Map<IsoDate, string>>();

export function isPublicHoliday(date: IsoDate): boolean {
  const year = Number(date.slice(0, 4));
  let holidays = holidayCache.get(year);
  if (!holidays) holidayCache.set(year, (holidays = publicHolidays(year)));
  return holidays.has(date);
}

export function isWorkingDay(date: IsoDate): boolean {
  const day = weekday(date);
  return day !== 0 && day !== 6 && !isPublicHoliday(date);
}

/**
 * The date `n` working days after `date` (the day itself does not count:
 * a referral received on a Friday with 1 working day is due Monday).
 */
export function addWorkingDays(date: IsoDate, n: number): IsoDate {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`working days must be a whole number >= 0, got ${n}`);
  let current = date;
  for (let left = n; left > 0; ) {
    current = addDays(current, 1);
    if (isWorkingDay(current)) left--;
  }
  return current;
}

/** Working days after `from` up to and including `to` (0 when `to` is not after `from`). */
export function workingDaysBetween(from: IsoDate, to: IsoDate): number {
  let count = 0;
  for (let d = addDays(from, 1); parse(d) <= parse(to); d = addDays(d, 1)) if (isWorkingDay(d)) count++;
  return count;
}

/**
 * Europe/Oslo local date of an instant (EU summer time: from 01:00 UTC on the
 * last Sunday of March to 01:00 UTC on the last Sunday of October, UTC+2;
 * otherwise UTC+1).
 */
export function osloDate(instant: string | number): IsoDate {
  const ms = typeof instant === 'number' ? instant : Date.parse(instant);
  if (Number.isNaN(ms)) throw new TypeError(`'${instant}' is not an instant`);
  const year = new Date(ms).getUTCFullYear();
  const lastSunday = (month: number) => {
    const last = Date.UTC(year, month + 1, 0);
    return last - new Date(last).getUTCDay() * DAY_MS;
  };
  const summerStart = lastSunday(2) + 3_600_000;
  const summerEnd = lastSunday(9) + 3_600_000;
  const offset = ms >= summerStart && ms < summerEnd ? 2 : 1;
  return format(ms + offset * 3_600_000 - (((ms + offset * 3_600_000) % DAY_MS) + DAY_MS) % DAY_MS);
}

/** The instant (ms since the epoch) at which a day begins in Europe/Oslo. */
export function osloStartOfDay(date: IsoDate): number {
  const utcMidnight = parse(date);
  // Local midnight is 22:00 UTC the day before in summer time, 23:00 UTC in winter.
  const summer = utcMidnight - 2 * 3_600_000;
  return osloDate(summer) === date ? summer : utcMidnight - 3_600_000;
}
