/**
 * From a checked, merged definition to the Plan a family workflow carries:
 * offsets parsed, defaults filled in, steps in one list ordered by when they
 * happen, sources resolved to their titles and urls.
 */
import type { MergedDefinition } from './merge';
import { approximateDays, parseOffset, type Action, type Condition, type Plan, type PlanStep, type SourceRef, type TimePoint } from './plan';
import type { ConditionDocument, TimePointDocument } from './schema';

const ANCHOR_RANK = { gestation: 0, enrolment: 1, dueDate: 2, birth: 3, event: 4 } as const;

function point(p: TimePointDocument): TimePoint {
  return { anchor: p.anchor, offset: parseOffset(p.offset ?? '0d') };
}

const list = <T>(value: T | T[] | undefined): T[] | undefined => (value === undefined ? undefined : Array.isArray(value) ? value : [value]);

function condition(when: ConditionDocument | undefined): Condition | undefined {
  if (!when) return undefined;
  const c: Condition = {};
  if (when.instrument) c.instrument = when.instrument;
  if (when.band !== undefined) c.band = list(when.band);
  if (when.item) c.item = { linkId: when.item.linkId, min: when.item.min };
  if (when.step !== undefined) c.step = list(when.step);
  if (when.status) c.status = when.status;
  if (when.phase !== undefined) c.phase = list(when.phase);
  if (when.basis) c.basis = when.basis;
  if (when.consent) c.consent = when.consent;
  return c;
}

export function compile(def: MergedDefinition): Plan {
  const sourceRef = (id: string | undefined): SourceRef => {
    const s = id ? def.sources[id]?.value : undefined;
    return { id: id ?? '', title: s?.title ?? '', ...(s?.url ? { url: s.url } : {}) };
  };
  // A step's own tolerance wins over its kind's (docs/pathway-authoring.md, "Matching results and contacts").
  const tolerance = (own: string | undefined, kind: string | undefined) => {
    const text = own ?? (kind ? (def.meta.matchWithin as Record<string, string | undefined> | undefined)?.[kind] : undefined);
    return text === undefined ? {} : { matchWithin: parseOffset(text) };
  };
  const steps: PlanStep[] = [];
  for (const { value: c } of def.contacts) {
    steps.push({
      kind: 'contact',
      id: c.id,
      title: c.title,
      ...(c.phase ? { phase: c.phase } : {}),
      ...(c.kind ? { contactKind: c.kind } : {}),
      deliveredBy: c.deliveredBy,
      trigger: c.trigger ?? 'plan',
      code: c.code,
      encounterClass: c.encounterClass ?? (c.kind === 'home-visit' ? 'HH' : 'AMB'),
      at: point(c.at),
      window: { earliest: parseOffset(c.window.earliest), latest: parseOffset(c.window.latest) },
      plannedEncounter: c.plannedEncounter ?? false,
      ...tolerance(c.matchWithin, c.kind),
      source: sourceRef(c.source),
    });
  }
  for (const { value: s } of def.screenings) {
    const instrument = def.instruments[s.instrument].value;
    steps.push({
      kind: 'screening',
      id: s.id,
      title: s.title,
      ...(s.phase ? { phase: s.phase } : {}),
      deliveredBy: s.deliveredBy,
      trigger: s.trigger ?? 'plan',
      instrument: s.instrument,
      code: instrument.code,
      encounterClass: 'AMB',
      at: point(s.at),
      window: { earliest: parseOffset(s.window.earliest), latest: parseOffset(s.window.latest) },
      plannedEncounter: false,
      ...tolerance(s.matchWithin, 'screening'),
      source: sourceRef(s.source),
    });
  }
  for (const { value: i } of def.interventions) {
    steps.push({
      kind: 'intervention',
      id: i.id,
      title: i.title,
      ...(i.phase ? { phase: i.phase } : {}),
      deliveredBy: i.deliveredBy,
      trigger: i.trigger ?? 'plan',
      code: i.code,
      start: point(i.start),
      every: parseOffset(i.repeat.every),
      ...(i.repeat.count !== undefined ? { count: i.repeat.count } : {}),
      ...(i.repeat.until ? { until: point(i.repeat.until) } : {}),
      ...tolerance(i.matchWithin, 'intervention'),
      source: sourceRef(i.source),
    });
  }
  const when = (s: PlanStep) => (s.kind === 'intervention' ? s.start : s.at);
  steps.sort((a, b) => ANCHOR_RANK[when(a).anchor] - ANCHOR_RANK[when(b).anchor] || approximateDays(when(a).offset) - approximateDays(when(b).offset));

  return {
    url: def.meta.url,
    version: def.meta.version,
    canonical: `${def.meta.url}|${def.meta.version}`,
    name: def.meta.name,
    title: def.meta.title,
    phases: def.phases.map(({ value: p }) => ({ id: p.id, title: p.title, start: point(p.start) })),
    steps,
    instruments: Object.fromEntries(
      Object.entries(def.instruments).map(([id, { value: v }]) => [
        id,
        { id, title: v.title, code: v.code, min: v.min, max: v.max, ...(v.items ? { items: v.items } : {}), ...(v.questionnaire ? { questionnaire: v.questionnaire } : {}), bands: v.bands.map((b) => ({ ...b })), source: sourceRef(v.source) },
      ]),
    ),
    rules: def.rules.map(({ value: r }) => ({
      id: r.id,
      ...(r.title ? { title: r.title } : {}),
      on: r.on,
      ...(r.when ? { when: condition(r.when) } : {}),
      do: r.do as Action[],
      source: sourceRef(r.source),
    })),
    handoffs: Object.fromEntries(
      def.handoffs.map(({ value: h }) => [
        h.id,
        {
          id: h.id,
          title: h.title,
          from: h.from,
          to: h.to,
          ...(h.reason ? { reason: h.reason } : {}),
          legalBasis: h.legalBasis,
          priority: h.priority ?? 'routine',
          startedBy: [...(h.startedBy ?? ['rule'])],
          deadline: { ...(h.deadline.workingDays ? { workingDays: h.deadline.workingDays } : {}), ...(h.deadline.days ? { days: h.deadline.days } : {}), ...(h.deadline.months ? { months: h.deadline.months } : {}), ...(h.deadline.hours ? { hours: h.deadline.hours } : {}), from: h.deadline.from ?? 'received' },
          reminders: (h.reminders ?? []).map((r) => parseOffset(r.before)),
          escalation: h.escalation.map((e) => ({ after: parseOffset(e.after), to: e.to })),
          ...(h.unopened ? { unopened: { ...(h.unopened.workingDays ? { workingDays: h.unopened.workingDays } : {}), ...(h.unopened.days ? { days: h.unopened.days } : {}), to: h.unopened.to } } : {}),
          milestones: (h.milestones ?? []).map((m) => ({ id: m.id, title: m.title, within: { ...m.within }, after: m.after, repeat: m.repeat ?? false })),
          ...(h.returnHandoff ? { returnHandoff: h.returnHandoff } : {}),
          ...(h.checkOnAccept ? { checkOnAccept: h.checkOnAccept } : {}),
          source: sourceRef(h.source),
        },
      ]),
    ),
    checks: Object.fromEntries(def.checks.map(({ value: c }) => [c.id, { id: c.id, title: c.title, ...(c.code ? { code: c.code } : {}), owner: c.owner, deadline: { ...c.deadline }, source: sourceRef(c.source) }])),
    exits: def.exits.map(({ value: e }) => ({ id: e.id, title: e.title, ...(e.on ? { on: e.on } : {}), ...(e.at ? { at: point(e.at) } : {}), carePlanStatus: e.carePlanStatus, source: sourceRef(e.source) })),
    services: Object.fromEntries(Object.entries(def.services).map(([id, { value: s }]) => [id, { id, title: s.title, kind: s.kind, ...(s.code ? { code: s.code } : {}) }])),
  };
}
