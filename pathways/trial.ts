/**
 * Trying a definition on one simulated family (`forlop pathway try`) and the
 * pathway tests kept beside a variant (`forlop pathway test`): the events a
 * family meets, read from YAML; the timeline a run produced, as rows; and
 * the check of a test's expected rows. Pure: the run itself (the embedded
 * Temporal server and the real worker) is app/pathway-trial.ts.
 */
import { parseDocument } from 'yaml';
import { addDays, type IsoDate } from './calendar';
import { anchorDate, applyOffset, parseOffset, type Anchors, type Plan } from './plan';

/** One thing that happens to the simulated family, on a date or at a time point of its own (`birth+6w`). */
export type TrialEvent = ({ on: IsoDate } | { at: string }) &
  (
    | { birth: true | IsoDate }
    | { pregnancyEnded: true }
    | { dueDate: IsoDate }
    | { contact: string; status?: 'finished' | 'cancelled' | 'no-show' }
    | { screening: string; score: number; items?: Record<string, number>; step?: string }
    | { handoff: string; status: 'received' | 'accepted' | 'rejected' | 'in-progress' | 'completed' }
    | { consent: 'consent' | 'health-personnel-cooperation' | 'section-33'; status: 'active' | 'rejected' | 'withdrawn' }
    | { moved: true }
    | { ended: string | true }
  );

export interface TrialScript {
  enrolment?: IsoDate;
  due?: IsoDate;
  events: TrialEvent[];
}

export type RowKind = 'enrolled' | 'event' | 'contact' | 'screening' | 'intervention' | 'rule' | 'handoff' | 'reminder' | 'escalation' | 'notice' | 'check' | 'exit';

export interface TimelineRow {
  on: IsoDate;
  kind: RowKind;
  /** The step key, rule, handoff, check or exit id. */
  id?: string;
  what: string;
  /** Contacts and screenings: earliest..latest. */
  window?: string;
  /** Handoffs and checks: the day a decision or the check is due. */
  deadline?: IsoDate;
  status?: string;
}

export class TrialInputError extends Error {
  override readonly name = 'TrialInputError';
}

const ISO = /^\d{4}-\d{2}-\d{2}$/;
const RELATIVE = /^(enrolment|dueDate|gestation|birth)(?:([+-])(\d+)(d|w|mo|y))?$/;

/** Events from YAML: a list, or { enrolment?, due?, events: [...] }. */
export function parseTrialScript(text: string, file: string): TrialScript {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new TrialInputError(`${file}: not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
  const value = doc.toJS() as unknown;
  const script = (Array.isArray(value) ? { events: value } : { ...(value as object), events: (value as { events?: unknown } | null)?.events ?? [] }) as TrialScript;
  if (!Array.isArray(script.events)) throw new TrialInputError(`${file}: expected a list of events, or a mapping with 'events: [...]'`);
  script.events.forEach((e, i) => checkEvent(e, `${file}: events[${i}]`));
  return script;
}

function checkEvent(e: TrialEvent, where: string): void {
  const r = e as Record<string, unknown>;
  if (typeof r.on === 'string' ? !ISO.test(r.on) : typeof r.at !== 'string' || !RELATIVE.test(r.at)) {
    throw new TrialInputError(`${where}: give 'on: YYYY-MM-DD' or 'at: <anchor>+<offset>' (e.g. at: birth+6w; anchors enrolment, dueDate, gestation, birth)`);
  }
  const kinds = ['birth', 'pregnancyEnded', 'dueDate', 'contact', 'screening', 'handoff', 'consent', 'moved', 'ended'].filter((k) => k in r);
  if (kinds.length !== 1) throw new TrialInputError(`${where}: name one of birth, pregnancyEnded, dueDate, contact, screening, handoff, consent, moved, ended (got ${kinds.join(', ') || 'none'})`);
  if ('screening' in r && typeof r.score !== 'number') throw new TrialInputError(`${where}: a screening needs 'score: <number>'`);
  if (('handoff' in r || 'consent' in r) && typeof r.status !== 'string') throw new TrialInputError(`${where}: a ${'handoff' in r ? 'handoff' : 'consent'} event needs 'status'`);
}

/** The day an event happens, given the family's anchors so far (undefined while its anchor is unknown, e.g. birth+6w before the birth). */
export function eventDate(e: TrialEvent, anchors: Anchors): IsoDate | undefined {
  if ('on' in e) return e.on;
  const m = RELATIVE.exec(e.at)!;
  const base = anchorDate(anchors, m[1] as 'enrolment' | 'dueDate' | 'gestation' | 'birth');
  if (!base || !m[2]) return base;
  return applyOffset(base, parseOffset(`${m[2] === '-' ? '-' : ''}${m[3]}${m[4]}`));
}

/** What an event says, for its timeline row. */
export function describeEvent(e: TrialEvent): string {
  if ('birth' in e) return 'birth registered';
  if ('pregnancyEnded' in e) return 'pregnancy ended';
  if ('dueDate' in e) return `due date corrected to ${e.dueDate}`;
  if ('contact' in e) return `${e.contact} recorded (${e.status ?? 'finished'})`;
  if ('screening' in e) return `${e.screening} scored ${e.score}${e.items ? ` (${Object.entries(e.items).map(([k, v]) => `${k}=${v}`).join(', ')})` : ''}`;
  if ('handoff' in e) return `${e.handoff}: the receiver moved its Task to ${e.status}`;
  if ('consent' in e) return `consent (${e.consent}) ${e.status}`;
  if ('moved' in e) return 'the family moved';
  return `pathway ended${typeof e.ended === 'string' ? `: ${e.ended}` : ''}`;
}

/** Enrolment when none is given: gestational week 12, when pregnancy care usually begins. */
export function defaultEnrolment(due: IsoDate): IsoDate {
  return addDays(due, -280 + 12 * 7);
}

const KIND_ORDER: RowKind[] = ['enrolled', 'event', 'rule', 'contact', 'screening', 'intervention', 'handoff', 'check', 'reminder', 'escalation', 'notice', 'exit'];

export function sortRows(rows: TimelineRow[]): TimelineRow[] {
  return [...rows].sort((a, b) => a.on.localeCompare(b.on) || KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || (a.id ?? '').localeCompare(b.id ?? ''));
}

/** The timeline as a fixed-width table, one row per line. */
export function formatTimeline(plan: Pick<Plan, 'title' | 'canonical'>, rows: TimelineRow[]): string {
  const head = ['date', 'kind', 'id', 'what', 'window / deadline', 'status'];
  const cells = rows.map((r) => [r.on, r.kind, r.id ?? '', r.what, r.window ?? (r.deadline ? `by ${r.deadline}` : ''), r.status ?? '']);
  const widths = head.map((h, i) => Math.min(60, Math.max(h.length, ...cells.map((c) => c[i].length))));
  const line = (c: string[]) => c.map((x, i) => (x.length > widths[i] ? `${x.slice(0, widths[i] - 1)}…` : x.padEnd(widths[i]))).join('  ').trimEnd();
  return [`${plan.title} (${plan.canonical})`, line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** An expected row: every field given must hold (`what` as a part of the text). */
export type ExpectedRow = Partial<TimelineRow>;

export function matches(row: TimelineRow, expected: ExpectedRow): boolean {
  return Object.entries(expected).every(([k, v]) => (k === 'what' ? row.what.includes(String(v)) : String(row[k as keyof TimelineRow] ?? '') === String(v)));
}

/** What a pathway test expects that the run did not show (and rows it said must be absent), each as a sentence. */
export function unmetExpectations(rows: TimelineRow[], expect: ExpectedRow[] = [], absent: ExpectedRow[] = []): string[] {
  const out: string[] = [];
  for (const e of expect) if (!rows.some((r) => matches(r, e))) out.push(`expected a row ${JSON.stringify(e)}; none matched`);
  for (const e of absent) {
    const found = rows.find((r) => matches(r, e));
    if (found) out.push(`expected no row ${JSON.stringify(e)}; found ${JSON.stringify(found)}`);
  }
  return out;
}
