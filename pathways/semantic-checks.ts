/**
 * The checks a JSON Schema cannot express, run after it on the merged
 * definition (a variant together with the base it extends): ids unique,
 * every reference resolves, time anchors and windows make sense, rules do not
 * feed themselves, score bands cover their scale exactly, handoffs and exits
 * are complete. Each problem points at the entry's own file and place.
 */
import { approximateDays, parseOffset } from './plan';
import type { DefinitionProblem } from './problems';
import { closest } from './problems';
import type { Entry, MergedDefinition } from './merge';
import type { ActionDocument, ContactDocument, InterventionDocument, ScreeningDocument, TimePointDocument } from './schema';

type StepDocument = ContactDocument | ScreeningDocument | InterventionDocument;

const ANCHOR_ORDER: Record<string, number> = { gestation: 0, enrolment: 1, dueDate: 2, birth: 3, event: 4 };
/** Events a pathway must say how to close on (DOMAIN.md: a pregnancy can end without birth; families move; consent can be withdrawn). */
const REQUIRED_EXITS = ['pregnancy-ended', 'moved', 'consent-withdrawn'] as const;

export function semanticProblems(def: MergedDefinition): DefinitionProblem[] {
  const problems: DefinitionProblem[] = [];
  const at = (entry: Entry<unknown>, sub: (string | number)[], message: string, hint?: string) => problems.push(entry.origin.problem([...entry.path, ...sub], message, hint));
  const steps: Entry<StepDocument>[] = [...def.contacts, ...def.screenings, ...def.interventions];
  const stepById = new Map(steps.map((s) => [s.id, s]));
  const stepIds = new Set(stepById.keys());
  const phaseIds = new Set(def.phases.map((p) => p.id));
  const handoffIds = new Set(def.handoffs.map((h) => h.id));
  const checkIds = new Set(def.checks.map((c) => c.id));
  const exitIds = new Set(def.exits.map((e) => e.id));

  const unknown = (entry: Entry<unknown>, sub: (string | number)[], kind: string, id: string, known: Iterable<string>) => {
    const guess = closest(id, known);
    at(entry, sub, `no ${kind} '${id}' is defined`, guess ? `did you mean '${guess}'?` : `define it under ${kind === 'step' ? 'contacts, screenings or interventions' : `${kind === 'source' ? 'sources' : `${kind}s`}`} first`);
  };
  const ref = (entry: Entry<unknown>, sub: (string | number)[], kind: string, id: string | undefined, known: { has(id: string): boolean } & Iterable<string>) => {
    if (id !== undefined && !known.has(id)) unknown(entry, sub, kind, id, known);
  };
  const sources = new Set(Object.keys(def.sources));
  const services = new Set(Object.keys(def.services));
  const instruments = new Set(Object.keys(def.instruments));

  // Unique ids: steps share one namespace (rules schedule and name them).
  const unique = (entries: Entry<unknown>[], kind: string) => {
    const seen = new Map<string, Entry<unknown>>();
    for (const e of entries) {
      const first = seen.get(e.id);
      if (first) at(e, ['id'], `${kind} id '${e.id}' is used twice`, `the first is at ${first.origin.problem(first.path, '').line ? `line ${first.origin.problem(first.path, '').line}` : first.origin.file}; give each a different id`);
      else seen.set(e.id, e);
    }
  };
  unique(steps, 'step');
  unique(def.phases, 'phase');
  unique(def.rules, 'rule');
  unique(def.handoffs, 'handoff');
  unique(def.checks, 'check');
  unique(def.exits, 'exit');

  for (const s of steps) {
    const v = s.value;
    ref(s, ['source'], 'source', v.source, sources);
    ref(s, ['deliveredBy'], 'service', v.deliveredBy, services);
    ref(s, ['phase'], 'phase', v.phase, phaseIds);
    if ('instrument' in v) ref(s, ['instrument'], 'instrument', v.instrument, instruments);
    const trigger = v.trigger ?? 'plan';
    const points: [TimePointDocument, (string | number)[]][] = 'start' in v ? [[v.start, ['start']]] : [[v.at, ['at']]];
    if ('repeat' in v && v.repeat.until) points.push([v.repeat.until, ['repeat', 'until']]);
    for (const [point, sub] of points) {
      if (trigger === 'rule' && point.anchor !== 'event' && sub[0] !== 'repeat') at(s, [...sub, 'anchor'], `a step with trigger: rule is planned from the event that schedules it, so its anchor must be 'event', not '${point.anchor}'`);
      if (trigger === 'plan' && point.anchor === 'event') at(s, [...sub, 'anchor'], "anchor 'event' is only for steps with trigger: rule", "set trigger: rule and schedule it from a rule, or anchor it to enrolment, dueDate, gestation or birth");
    }
    if ('window' in v) {
      const target = approximateDays(parseOffset(v.at.offset ?? '0d'));
      const earliest = approximateDays(parseOffset(v.window.earliest));
      const latest = approximateDays(parseOffset(v.window.latest));
      if (earliest > latest) at(s, ['window'], `the window opens (${v.window.earliest}) after it closes (${v.window.latest})`, 'earliest must not be after latest');
      else if (target < earliest || target > latest) at(s, ['window'], `the target ${v.at.offset ?? '0d'} lies outside its window ${v.window.earliest} to ${v.window.latest}`, 'the window is counted from the same anchor as `at` and must contain the target');
    }
    if ('repeat' in v) {
      const every = approximateDays(parseOffset(v.repeat.every));
      if (every <= 0) at(s, ['repeat', 'every'], `sessions must be at least a day apart, got ${v.repeat.every}`);
      if (v.repeat.count === undefined && v.repeat.until === undefined) at(s, ['repeat'], 'a recurring intervention needs count (a course of N sessions) or until (when it ends)', 'add count: 8, or until: {anchor: birth, offset: 12mo}');
      if (v.repeat.until && v.repeat.until.anchor === v.start.anchor && approximateDays(parseOffset(v.repeat.until.offset ?? '0d')) <= approximateDays(parseOffset(v.start.offset ?? '0d'))) {
        at(s, ['repeat', 'until'], 'the intervention ends before it starts', 'until must come after start');
      }
      if (v.repeat.until && v.start.anchor !== 'event' && ANCHOR_ORDER[v.repeat.until.anchor] < ANCHOR_ORDER[v.start.anchor]) {
        at(s, ['repeat', 'until', 'anchor'], `until is anchored to ${v.repeat.until.anchor}, which comes before the start's anchor ${v.start.anchor}`);
      }
    }
  }

  // Phases follow each other in time.
  for (const [i, p] of def.phases.entries()) {
    ref(p, ['source'], 'source', p.value.source, sources);
    if (p.value.start.anchor === 'event') at(p, ['start', 'anchor'], "a phase cannot start at 'event'", 'anchor phases to enrolment, dueDate, gestation or birth');
    const previous = def.phases[i - 1];
    if (!previous) continue;
    const [a, b] = [previous.value.start, p.value.start];
    const order = ANCHOR_ORDER[b.anchor] - ANCHOR_ORDER[a.anchor];
    if (order < 0 || (order === 0 && approximateDays(parseOffset(b.offset ?? '0d')) <= approximateDays(parseOffset(a.offset ?? '0d')))) {
      at(p, ['start'], `phase '${p.id}' starts no later than the phase before it ('${previous.id}')`, 'list phases in the order they happen');
    }
  }

  // Instruments: bands inside the scale, in order, without gaps or overlaps.
  for (const inst of Object.values(def.instruments)) {
    const v = inst.value;
    ref(inst, ['source'], 'source', v.source, sources);
    if (v.min >= v.max) at(inst, ['max'], `the scale ${v.min}-${v.max} is empty`, 'max must be above min');
    const bands = [...v.bands].map((b, i) => ({ ...b, i })).sort((x, y) => x.min - y.min);
    let next = v.min;
    const ids = new Set<string>();
    for (const b of bands) {
      if (ids.has(b.id)) at(inst, ['bands', b.i, 'id'], `band id '${b.id}' is used twice`);
      ids.add(b.id);
      if (b.min > b.max) at(inst, ['bands', b.i], `band '${b.id}' runs from ${b.min} down to ${b.max}`, 'min must not be above max');
      else if (b.min < next) at(inst, ['bands', b.i, 'min'], `band '${b.id}' (${b.min}-${b.max}) overlaps the band below it`, `start it at ${next}`);
      else if (b.min > next) at(inst, ['bands', b.i, 'min'], `scores ${next}-${b.min - 1} fall in no band`, `start band '${b.id}' at ${next}, or add a band for them`);
      next = Math.max(next, b.max + 1);
    }
    if (next <= v.max) at(inst, ['bands'], `scores ${next}-${v.max} fall in no band`, `extend the highest band to ${v.max}`);
    if (next > v.max + 1) at(inst, ['bands'], `a band reaches above the scale's maximum ${v.max}`);
  }

  // Rules: conditions and actions refer to things that exist.
  const scheduledBy = new Map<string, string[]>();
  for (const r of def.rules) {
    const v = r.value;
    ref(r, ['source'], 'source', v.source, sources);
    const when = v.when ?? {};
    ref(r, ['when', 'instrument'], 'instrument', when.instrument, instruments);
    const bands = when.band === undefined ? [] : Array.isArray(when.band) ? when.band : [when.band];
    if (bands.length && !when.instrument) at(r, ['when', 'band'], 'a band condition needs the instrument it belongs to', 'add instrument: epds (or the instrument meant)');
    const inst = when.instrument ? def.instruments[when.instrument]?.value : undefined;
    for (const [i, b] of bands.entries()) {
      if (inst && !inst.bands.some((x) => x.id === b)) unknown(r, ['when', 'band', ...(Array.isArray(when.band) ? [i] : [])], 'band', b, inst.bands.map((x) => x.id));
    }
    if (when.item && inst?.items !== undefined && !(Number(when.item.linkId) >= 1 && Number(when.item.linkId) <= inst.items)) {
      at(r, ['when', 'item', 'linkId'], `item '${when.item.linkId}' is not one of the ${inst.items} items of ${when.instrument}`);
    }
    if ((when.instrument || when.item) && v.on !== 'screening-recorded') at(r, ['on'], `instrument and item conditions only apply to screening-recorded, not ${v.on}`);
    if (when.status && v.on !== 'encounter-recorded') at(r, ['when', 'status'], `a status condition only applies to encounter-recorded, not ${v.on}`);
    for (const [i, s] of (when.step === undefined ? [] : Array.isArray(when.step) ? when.step : [when.step]).entries()) ref(r, ['when', 'step', ...(Array.isArray(when.step) ? [i] : [])], 'step', s, stepIds);
    for (const [i, p] of (when.phase === undefined ? [] : Array.isArray(when.phase) ? when.phase : [when.phase]).entries()) ref(r, ['when', 'phase', ...(Array.isArray(when.phase) ? [i] : [])], 'phase', p, phaseIds);
    for (const [i, action] of v.do.entries()) checkAction(action as ActionDocument, (sub, msg, hint) => at(r, ['do', i, ...sub], msg, hint));
    // Helsepersonelloven §33: the duty to inform child welfare is not a consent; the family can neither give nor withdraw it.
    if (v.on === 'consent-changed' && when.basis === 'section-33' && when.consent !== 'active') {
      at(r, ['when', 'basis'], 'the duty to inform child welfare (section-33, helsepersonelloven §33) is not a consent: the family refusing or withdrawing it cannot hold or stop anything', "listen for basis: consent (or health-personnel-cooperation) instead");
    }
    for (const action of v.do) if ('schedule' in action && action.schedule) scheduledBy.set(r.id, [...(scheduledBy.get(r.id) ?? []), action.schedule]);
  }
  function checkAction(action: ActionDocument, report: (sub: string[], message: string, hint?: string) => void) {
    const [kind, id] = Object.entries(action)[0] as [string, string];
    const known: Record<string, [string, { has(id: string): boolean } & Iterable<string>]> = {
      schedule: ['step', stepIds],
      cancel: ['step', stepIds],
      handoff: ['handoff', handoffIds],
      openCheck: ['check', checkIds],
      exit: ['exit', exitIds],
    };
    if (kind === 'schedule' || kind === 'cancel') {
      const step = stepById.get(id);
      if (!step) return report([kind], `no step '${id}' is defined`, closest(id, stepById.keys()) ? `did you mean '${closest(id, stepById.keys())}'?` : undefined);
      if (kind === 'schedule' && (step.value.trigger ?? 'plan') !== 'rule') report([kind], `step '${id}' is planned for every family, so a rule cannot schedule it`, `give '${id}' trigger: rule and anchor: event`);
      return;
    }
    const entry = known[kind];
    if (entry && !new Set(entry[1]).has(id)) {
      const guess = closest(id, entry[1]);
      report([kind], `no ${entry[0]} '${id}' is defined`, guess ? `did you mean '${guess}'?` : undefined);
    }
  }

  // Cycles: a rule that schedules a step on that same step's events would feed itself forever.
  const triggers = new Map<string, string[]>(); // step -> rules fired by its events
  for (const r of def.rules) {
    const when = r.value.when ?? {};
    const onSteps = when.step === undefined ? [] : Array.isArray(when.step) ? when.step : [when.step];
    const byInstrument = r.value.on === 'screening-recorded' ? def.screenings.filter((s) => !when.instrument || s.value.instrument === when.instrument).map((s) => s.id) : [];
    const fromSteps = onSteps.length ? onSteps : r.value.on === 'contact-overdue' || r.value.on === 'encounter-recorded' ? steps.map((s) => s.id) : byInstrument;
    for (const s of fromSteps) triggers.set(s, [...(triggers.get(s) ?? []), r.id]);
  }
  const reported = new Set<string>();
  for (const start of def.rules) {
    const stack: { rule: string; trail: string[] }[] = [{ rule: start.id, trail: [start.id] }];
    const visited = new Set<string>();
    while (stack.length) {
      const { rule, trail } = stack.pop()!;
      for (const step of scheduledBy.get(rule) ?? []) {
        for (const next of triggers.get(step) ?? []) {
          if (next === start.id) {
            const key = [...trail].sort().join(',');
            if (!reported.has(key)) {
              reported.add(key);
              at(start, ['do'], `rules form a cycle: ${[...trail, next].join(' -> ')} (each schedules a step whose events fire the next)`, 'narrow a rule with when: so it does not fire for the step it schedules');
            }
          } else if (!visited.has(next)) {
            visited.add(next);
            stack.push({ rule: next, trail: [...trail, next] });
          }
        }
      }
    }
  }

  // Handoffs and checks.
  for (const h of def.handoffs) {
    const v = h.value;
    ref(h, ['source'], 'source', v.source, sources);
    ref(h, ['from'], 'service', v.from, services);
    ref(h, ['to'], 'service', v.to, services);
    if (v.from === v.to) at(h, ['to'], `a handoff goes between two services; from and to are both '${v.from}'`);
    ref(h, ['returnHandoff'], 'handoff', v.returnHandoff, handoffIds);
    ref(h, ['checkOnAccept'], 'check', v.checkOnAccept, checkIds);
    const units = (['workingDays', 'days', 'months', 'hours'] as const).filter((u) => v.deadline[u] !== undefined);
    if (units.length === 0) at(h, ['deadline'], 'a handoff deadline needs workingDays, days, months or hours', 'e.g. workingDays: 10 (pasient- og brukerrettighetsloven §2-2)');
    if (units.length > 1) at(h, ['deadline'], `give one of workingDays, days, months or hours, not ${units.join(' and ')}`);
    // Urgent is not ordinary (pasient- og brukerrettighetsloven §2-2: serious conditions are assessed faster): hours, counted from sending.
    const urgent = v.priority === 'urgent';
    if (urgent && v.deadline.hours === undefined) at(h, ['deadline'], 'an urgent handoff needs a deadline in hours (e.g. hours: 6 for an assessment the same day)', 'give deadline: { hours: N, from: sent }, or make it priority: routine');
    if (urgent && v.deadline.hours !== undefined && (v.deadline.from ?? 'received') !== 'sent') at(h, ['deadline', 'from'], "an urgent handoff's hours count from when it is sent", 'set from: sent');
    if (!urgent && v.deadline.hours !== undefined) at(h, ['deadline', 'hours'], 'a deadline in hours is for urgent handoffs', 'set priority: urgent, or give the deadline in days');
    const hourly = [...(v.reminders ?? []).map((r, i) => [r.before, ['reminders', i, 'before']] as const), ...v.escalation.map((e, i) => [e.after, ['escalation', i, 'after']] as const)];
    for (const [text, sub] of hourly) {
      if (text.endsWith('h') && v.deadline.hours === undefined) at(h, [...sub], `'${text}' is in hours, but this handoff's deadline is in days`, 'use days (e.g. 0d, 2d), or make the handoff urgent with deadline: { hours: N }');
    }
    let last = -Infinity;
    for (const [i, step] of v.escalation.entries()) {
      const days = approximateDays(parseOffset(step.after));
      if (days < 0) at(h, ['escalation', i, 'after'], 'escalation happens after the deadline has passed; use an offset of 0d or more');
      if (days < last) at(h, ['escalation', i, 'after'], 'escalation steps must be listed in the order they happen');
      last = days;
    }
    for (const [i, r] of (v.reminders ?? []).entries()) if (approximateDays(parseOffset(r.before)) <= 0) at(h, ['reminders', i, 'before'], 'a reminder comes a positive time before the deadline, e.g. 2d');
    const milestones = new Set<string>();
    for (const [i, m] of (v.milestones ?? []).entries()) {
      if (m.after !== 'sent' && m.after !== 'accepted' && m.after !== 'first-attendance' && !milestones.has(m.after)) {
        at(h, ['milestones', i, 'after'], `'${m.after}' is not 'sent', 'accepted', 'first-attendance' or an earlier milestone of this handoff`);
      }
      milestones.add(m.id);
    }
  }
  // A referral in is matched to a handoff by the service it is addressed to: that must be unambiguous.
  const referralTo = new Map<string, string>();
  for (const h of def.handoffs) {
    if (!h.value.startedBy?.includes('referral')) continue;
    const other = referralTo.get(h.value.to);
    if (other) at(h, ['startedBy'], `handoffs '${other}' and '${h.id}' both take referrals to '${h.value.to}'; a referral could not tell which applies`, 'let one handoff per receiving service be startedBy referral');
    else referralTo.set(h.value.to, h.id);
  }
  // A return handoff that returns again would ping-pong forever.
  for (const h of def.handoffs) {
    const trail = [h.id];
    let next = h.value.returnHandoff;
    while (next && !trail.includes(next)) {
      trail.push(next);
      next = def.handoffs.find((x) => x.id === next)?.value.returnHandoff;
    }
    if (next && next === h.id) at(h, ['returnHandoff'], `return handoffs form a cycle: ${[...trail, next].join(' -> ')}`, 'the last handoff back must not name a returnHandoff');
  }
  for (const c of def.checks) {
    ref(c, ['source'], 'source', c.value.source, sources);
    ref(c, ['owner'], 'service', c.value.owner, services);
  }

  // Exits: the pathway must be able to end, and say how for the events that end it.
  for (const e of def.exits) {
    ref(e, ['source'], 'source', e.value.source, sources);
    if (!e.value.on && !e.value.at) at(e, [], `exit '${e.id}' needs on (an event) or at (a time point)`);
    if (e.value.at?.anchor === 'event') at(e, ['at', 'anchor'], "an exit's time point cannot be anchored to 'event'");
  }
  const root = { id: '', value: undefined, origin: def.file, path: [] } as Entry<unknown>;
  if (!def.exits.some((e) => e.value.at)) at(root, ['exits'], 'no exit has a time point, so the pathway would never end', 'add an exit at {anchor: birth, offset: 3y} (the child turns three)');
  for (const on of REQUIRED_EXITS) {
    if (!def.exits.some((e) => e.value.on === on)) at(root, ['exits'], `no exit for '${on}'`, `add an exit with on: ${on}, so the pathway closes with care when it happens`);
  }
  const seenOn = new Map<string, string>();
  for (const e of def.exits) {
    if (!e.value.on) continue;
    if (seenOn.has(e.value.on)) at(e, ['on'], `exits '${seenOn.get(e.value.on)}' and '${e.id}' both handle ${e.value.on}`, 'keep one');
    seenOn.set(e.value.on, e.id);
  }
  return problems;
}

/** Days from the start of gestational week 0 to the due date (Naegele), to put dueDate and gestation anchors on one axis. */
const GESTATION_DAYS = 280;

/**
 * Things that are allowed but probably not meant. Today: two steps a result
 * or contact could both fulfil (the same instrument, or the same contact
 * code) whose windows, widened by their matchWithin tolerance, overlap: a
 * result dated in the overlap goes to the nearer target, which may not be
 * the one the clinician meant (issue #29). Only steps on the same time axis
 * are compared (a pregnancy week and an age cannot be ordered before the
 * birth).
 */
export function semanticWarnings(def: MergedDefinition): DefinitionProblem[] {
  const warnings: DefinitionProblem[] = [];
  const kinds = (def.meta.matchWithin ?? {}) as Record<string, string | undefined>;
  type Span = { entry: Entry<ContactDocument | ScreeningDocument>; key: string; axis: string; from: number; to: number; tolerance: string };
  const spans: Span[] = [];
  for (const entry of [...def.contacts, ...def.screenings] as Entry<ContactDocument | ScreeningDocument>[]) {
    const v = entry.value;
    if ((v.trigger ?? 'plan') === 'rule' || v.at.anchor === 'event') continue;
    const kind = 'instrument' in v ? 'screening' : v.kind;
    const tolerance = v.matchWithin ?? (kind ? kinds[kind] : undefined) ?? '0d';
    const widen = approximateDays(parseOffset(tolerance));
    const shift = v.at.anchor === 'dueDate' ? GESTATION_DAYS : 0;
    const axis = v.at.anchor === 'dueDate' ? 'gestation' : v.at.anchor;
    const key = 'instrument' in v ? `instrument ${v.instrument}` : `code ${v.code.system}|${v.code.code}`;
    spans.push({ entry, key, axis, tolerance, from: shift + approximateDays(parseOffset(v.window.earliest)) - widen, to: shift + approximateDays(parseOffset(v.window.latest)) + widen });
  }
  for (const [i, a] of spans.entries()) {
    for (const b of spans.slice(i + 1)) {
      if (a.key !== b.key || a.axis !== b.axis || a.to < b.from || b.to < a.from) continue;
      warnings.push(
        b.entry.origin.problem(
          [...b.entry.path, 'window'],
          `steps '${a.entry.id}' and '${b.entry.id}' (${a.key}) have overlapping windows with their tolerance (${a.tolerance} and ${b.tolerance}): a result or contact dated in the overlap is ambiguous`,
          'narrow a window or a matchWithin so they do not meet, or let services link the result to its step (basedOn)',
        ),
      );
    }
  }
  return warnings;
}
