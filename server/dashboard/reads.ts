/**
 * What the dashboard's pages read, each through the coordinator API or the
 * FHIR API with the user's token (api-client.ts): the families list, one
 * family with its CarePlan, Tasks and their history, Consents and
 * Communications, and the mothers' names where the user may read them.
 */
import type { Bundle, CarePlan, Communication, Consent, Patient, Resource, Task } from '@medplum/fhirtypes';
import { FORLOP_SYSTEMS } from '../../fhir/builders/pathway';
import type { Plan } from '../../pathways/plan';
import type { FamilySummary } from '../coordinator/api';
import type { FamilyDetail, HandoffDetail } from '../../web/pages/family';
import type { TimelineData, TimelineItem } from '../../web/components/timeline';
import { ApiError, type ApiClient } from './api-client';
import type { FamilyRow } from './families-view';

export type PlanLookup = (canonical: string) => Plan | undefined;

const entries = <T extends Resource>(bundle: Bundle | undefined) => (bundle?.entry ?? []).map((e) => e.resource as T).filter(Boolean);

/** Every family the user's organisation may see (the API pages by 200). */
export async function allFamilies(api: ApiClient): Promise<{ today: string; families: FamilySummary[] }> {
  type Page = { today: string; families: FamilySummary[]; next?: number };
  const first = await api.get<Page>('/api/families?_count=200&page=1');
  const families = [...first.families];
  for (let next = first.next; next; ) {
    const answer: Page = await api.get<Page>(`/api/families?_count=200&page=${next}`);
    families.push(...answer.families);
    next = answer.next;
  }
  return { today: first.today, families };
}

const nameOf = (p: Patient) => {
  const n = p.name?.[0];
  if (!n) return undefined;
  return n.text ?? [...(n.given ?? []), n.family].filter(Boolean).join(' ') ?? undefined;
};

/**
 * The mothers' names, read as Patients through the FHIR API: a user who may
 * not read a Patient (scope or organisation) gets no name, only the
 * pseudonymous family id.
 */
export async function motherNames(api: ApiClient, patients: string[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  const ids = [...new Set(patients.filter((p) => p.startsWith('Patient/')).map((p) => p.slice('Patient/'.length)))];
  for (let i = 0; i < ids.length; i += 100) {
    const chunk = ids.slice(i, i + 100);
    let bundle: Bundle;
    try {
      bundle = await api.get<Bundle>(`/fhir/Patient?_id=${chunk.join(',')}&_count=${chunk.length}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) return names; // no Patient scope: ids only
      throw error;
    }
    for (const p of entries<Patient>(bundle)) {
      const name = nameOf(p);
      if (name) names.set(`Patient/${p.id}`, name);
    }
  }
  return names;
}

export function serviceTitles(plans: PlanLookup, canonicals: Iterable<string>): (id: string) => string {
  const titles = new Map<string, string>();
  for (const c of canonicals) {
    const plan = plans(c);
    if (!plan) continue;
    for (const s of Object.values(plan.services)) titles.set(s.id, s.title);
    for (const h of Object.values(plan.handoffs)) if (!titles.has(h.id)) titles.set(h.id, h.title);
  }
  return (id) => titles.get(id) ?? id;
}

export function toRows(families: FamilySummary[], names: Map<string, string>, plans: PlanLookup): FamilyRow[] {
  return families.map((f) => {
    const plan = plans(f.canonical);
    const handoffServices: Record<string, string> = {};
    for (const h of f.openHandoffs) handoffServices[h.key] = plan?.handoffs[h.handoff]?.to ?? h.handoff;
    const name = f.patient ? names.get(f.patient) : undefined;
    return { ...f, ...(name ? { name } : {}), handoffServices };
  });
}

export interface FamilyReads {
  family: FamilyDetail;
  carePlan: CarePlan;
  tasks: Task[];
  histories: Map<string, { versionId: number; lastUpdated: string; status: string; note?: string }[]>;
  consents: Consent[];
  communications: Communication[];
  name?: string;
}

export async function readFamily(api: ApiClient, familyId: string): Promise<FamilyReads> {
  const family = await api.get<FamilyDetail>(`/api/families/${encodeURIComponent(familyId)}`);
  const patient = family.patient;
  const [carePlan, tasks, consents, communications, names] = await Promise.all([
    api.get<CarePlan>(`/fhir/${family.carePlan}`),
    patient ? api.get<Bundle>(`/fhir/Task?patient=${patient}&_count=200`).then((b) => entries<Task>(b)) : Promise.resolve([]),
    patient ? api.get<Bundle>(`/fhir/Consent?patient=${patient}&_count=200`).then((b) => entries<Consent>(b)) : Promise.resolve([]),
    patient ? api.get<Bundle>(`/fhir/Communication?subject=${patient}&_count=200`).then((b) => entries<Communication>(b)) : Promise.resolve([]),
    patient ? motherNames(api, [patient]) : Promise.resolve(new Map<string, string>()),
  ]);
  const handoffTasks = tasks.filter((t) => t.identifier?.some((i) => i.system === FORLOP_SYSTEMS.handoff));
  const histories = new Map<string, { versionId: number; lastUpdated: string; status: string; note?: string }[]>();
  await Promise.all(
    handoffTasks.map(async (t) => {
      const bundle = await api.get<Bundle>(`/fhir/Task/${t.id}/_history`);
      const versions = entries<Task>(bundle).map((v) => ({
        versionId: Number(v.meta?.versionId ?? 0),
        lastUpdated: v.meta?.lastUpdated ?? '',
        status: v.status,
        ...(v.businessStatus?.text || v.statusReason?.text ? { note: v.businessStatus?.text ?? v.statusReason?.text } : {}),
      }));
      histories.set(t.id!, versions.sort((a, b) => a.versionId - b.versionId));
    }),
  );
  communications.sort((a, b) => (b.sent ?? '').localeCompare(a.sent ?? ''));
  return { family, carePlan, tasks: handoffTasks, histories, consents, communications, ...(patient && names.get(patient) ? { name: names.get(patient) } : {}) };
}

export function handoffDetails(reads: FamilyReads, plan: Plan | undefined, titles: (id: string) => string): HandoffDetail[] {
  const { family } = reads;
  return reads.tasks.map((task) => {
    const key = task.identifier!.find((i) => i.system === FORLOP_SYSTEMS.handoff)!.value!.split('/').slice(1).join('/');
    const summary = family.openHandoffs.find((h) => h.key === key);
    const handoffId = summary?.handoff ?? key.replace(/-\d+$/, '');
    const spec = plan?.handoffs[handoffId];
    return {
      key,
      title: task.description ?? spec?.title ?? key,
      service: titles(spec?.to ?? task.owner?.reference?.replace('Organization/', '') ?? ''),
      task,
      history: reads.histories.get(task.id!) ?? [],
      ...(summary ? { summary } : {}),
    };
  });
}

const stepKeyOf = (progress: { text?: string }[] | undefined) => progress?.map((p) => /^Step (\S+?)(;|$)/.exec(p.text ?? '')?.[1]).find(Boolean);

/** What a timeline entry's text says happened, for its mark's look (the text itself is shown as it is). */
function markOf(what: string): string {
  if (/overdue/i.test(what)) return 'overdue';
  if (/did not come|cancelled/i.test(what)) return 'missed';
  if (/held$|session \d/i.test(what)) return 'held';
  if (/escalat|remind/i.test(what)) return 'escalation';
  if (/referr|handoff|accepted|received|rejected/i.test(what)) return 'handoff';
  if (/ended|exit|closed/i.test(what)) return 'exit';
  if (/\d+ \(/.test(what)) return 'screening';
  return 'note';
}

const addYears = (day: string, years: number) => `${Number(day.slice(0, 4)) + years}${day.slice(4, 10)}`;
const addMonths = (day: string, months: number) => {
  const d = new Date(`${day.slice(0, 10)}T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.toISOString().slice(0, 10);
};

export function timelineData(reads: FamilyReads, handoffs: HandoffDetail[]): TimelineData {
  const { family, carePlan } = reads;
  const items: TimelineItem[] = [];
  (carePlan.activity ?? []).forEach((a, i) => {
    const period = a.detail?.scheduledPeriod ?? a.detail?.scheduledTiming?.repeat?.boundsPeriod;
    if (!period?.start) return;
    const state = a.detail?.statusReason?.coding?.[0]?.code ?? 'planned';
    const end = period.end && period.end > period.start ? period.end : undefined;
    items.push({ id: `a${i}`, group: 'planned', content: a.detail?.description ?? stepKeyOf(a.progress) ?? '', start: period.start.slice(0, 10), ...(end ? { end: end.slice(0, 10) } : {}), type: end ? 'range' : 'point', className: state, title: state });
  });
  family.timeline.forEach((e, i) => items.push({ id: `t${i}`, group: 'happened', content: e.what, start: e.on, type: 'point', className: markOf(e.what) }));
  handoffs.forEach((h, i) => {
    const start = h.summary?.openedOn ?? h.task?.authoredOn?.slice(0, 10);
    if (!start) return;
    const end = h.summary?.deadline && h.summary.deadline > start ? h.summary.deadline : undefined;
    items.push({ id: `h${i}`, group: 'handoffs', content: `${h.title}: ${h.task?.status ?? h.summary?.status ?? ''}`, start, ...(end ? { end } : {}), type: end ? 'range' : 'point', className: h.summary && h.summary.daysLeft !== undefined && h.summary.daysLeft < 0 ? 'overdue' : 'handoff' });
  });
  const origin = family.anchors.enrolment;
  const birth = family.anchors.birth ?? family.anchors.dueDate ?? origin;
  const span = { start: addMonths(origin, -1), end: addYears(birth, 3) };
  const window = { start: addMonths(family.today < origin ? family.today : origin, -1), end: addMonths(family.today, 6) };
  return { items, window, span, today: family.today };
}

/** The family's open contact and screening steps (CarePlan activities not yet done), for "record a contact". */
export function openSteps(carePlan: CarePlan): { key: string; title: string }[] {
  return (carePlan.activity ?? [])
    .filter((a) => ['planned', 'overdue'].includes(a.detail?.statusReason?.coding?.[0]?.code ?? '') && !a.detail?.scheduledTiming)
    .map((a) => ({ key: stepKeyOf(a.progress) ?? '', title: `${a.detail?.description ?? ''}${a.detail?.statusReason?.coding?.[0]?.code === 'overdue' ? ' ⚠' : ''}` }))
    .filter((s) => s.key);
}
