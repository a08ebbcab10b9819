/**
 * One simulated family through a definition, on real components: the
 * embedded Temporal server with time skipping, the real SDK worker running
 * the family and handoff workflows, and the pathway activities writing to
 * an in-memory FHIR store (PGlite). No FHIR server or IdP is needed. Powers
 * `forlop pathway try` and `forlop pathway test`.
 */
import { randomUUID } from 'node:crypto';
import type { Worker } from '@temporalio/worker';
import type { Communication } from '@medplum/fhirtypes';
import { createPathwayActivities } from '../activities/pathway-effects';
import { FhirStore, openPglite } from '../fhir/store';
import { addDays, osloDate, type IsoDate } from '../pathways/calendar';
import type { Plan } from '../pathways/plan';
import { defaultEnrolment, describeEvent, eventDate, sortRows, TrialInputError, type TimelineRow, type TrialEvent, type TrialScript } from '../pathways/trial';
import { createTestEnvironment, type EmbeddedTestEnvironment } from '../temporal/embedded/test-env';
import { createForlopWorker } from '../temporal/worker';
import type { familyPathway, FamilyPathwayInput } from '../workflows/family-pathway';
import type { HandoffProgress } from '../workflows/handoff-state';
import { FAMILY_PATHWAY_WORKFLOW, familyWorkflowId, handoffQuery, handoffWorkflowId, pathwayStateQuery, recordEventUpdate, taskStatusSignal } from '../workflows/messages';
import type { PathwayEvent } from '../workflows/pathway-events';
import type { PathwayState } from '../workflows/pathway-state';
import { morningOf, sleepUntilDay } from './in-process-stack';

export interface TrialResult {
  familyId: string;
  rows: TimelineRow[];
  state: PathwayState;
  /** Events the workflow refused (its update validator), with why. */
  refused: { event: string; reason: string }[];
}

const TASK_QUEUE = 'pathway-trial';
const MOTHER = 'Patient/trial-mother';
const CHILD = 'Patient/trial-child';

/** Runs `script` on `plan` until `until` (default: 40 days after the third birthday, past every exit at a time point). */
export async function runTrial(plan: Plan, script: TrialScript & { due: IsoDate }, options: { until?: IsoDate } = {}): Promise<TrialResult> {
  const enrolment = script.enrolment ?? defaultEnrolment(script.due);
  const env: EmbeddedTestEnvironment = await createTestEnvironment({ startTime: morningOf(enrolment) });
  const store = await FhirStore.open(await openPglite());
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  try {
    worker = await createForlopWorker({ connection: env.nativeConnection, taskQueue: TASK_QUEUE, activities: createPathwayActivities({ fhir: store, plans: { plan: () => plan } }) });
    running = worker.run();
    return await drive(env, store, plan, { ...script, enrolment }, options.until);
  } finally {
    worker?.shutdown();
    await running;
    await env.teardown();
    await store.close();
  }
}

async function drive(env: EmbeddedTestEnvironment, store: FhirStore, plan: Plan, script: TrialScript & { due: IsoDate; enrolment: IsoDate }, until?: IsoDate): Promise<TrialResult> {
  const familyId = randomUUID();
  const input: FamilyPathwayInput = {
    familyId,
    plan,
    refs: {
      patient: MOTHER,
      child: CHILD,
      organization: 'Organization/trial-municipality',
      coordinator: 'Practitioner/trial-coordinator',
      services: Object.fromEntries(Object.keys(plan.services).map((id) => [id, `Organization/trial-${id}`])),
    },
    anchors: { enrolment: script.enrolment, dueDate: script.due },
  };
  const handle = await env.client.workflow.start<typeof familyPathway>(FAMILY_PATHWAY_WORKFLOW, { taskQueue: TASK_QUEUE, workflowId: familyWorkflowId(familyId), args: [input] });
  const rows: TimelineRow[] = [];
  const refused: TrialResult['refused'] = [];
  let state = await handle.query(pathwayStateQuery);
  // Without a birth (or an ended pregnancy) a pathway waits at the due date for ever: a try assumes a birth on the due date.
  const events: TrialEvent[] = script.events.some((e) => 'birth' in e || 'pregnancyEnded' in e) ? [...script.events] : [...script.events, { on: script.due, birth: true }];
  const pending = [...events];
  while (pending.length > 0) {
    // The next event whose date is known now (birth+6w is known once the birth is).
    const dated = pending.map((e) => ({ e, on: eventDate(e, state.anchors) })).filter((x): x is { e: TrialEvent; on: IsoDate } => x.on !== undefined);
    if (dated.length === 0) throw new TrialInputError(`events whose anchor never becomes known: ${pending.map(describeEvent).join('; ')}`);
    dated.sort((a, b) => a.on.localeCompare(b.on));
    const { e, on } = dated[0];
    pending.splice(pending.indexOf(e), 1);
    if (on < osloDate(await env.currentTimeMs())) throw new TrialInputError(`${describeEvent(e)} on ${on} lies before the day the simulation has reached; order the events by date`);
    await sleepUntilDay(env, on);
    state = await handle.query(pathwayStateQuery);
    if (state.status === 'closed') break;
    rows.push({ on, kind: 'event', what: describeEvent(e) });
    if ('handoff' in e) {
      const open = [...state.handoffs].reverse().find((h) => h.handoff === e.handoff);
      if (!open) {
        refused.push({ event: describeEvent(e), reason: `no handoff '${e.handoff}' has started by ${on}` });
        continue;
      }
      await env.client.workflow.getHandle(handoffWorkflowId(familyId, open.key)).signal(taskStatusSignal, { status: e.status, date: on });
      continue;
    }
    try {
      await handle.executeUpdate(recordEventUpdate, { args: [pathwayEvent(e, on, plan)] });
    } catch (error) {
      refused.push({ event: describeEvent(e), reason: ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message });
    }
    state = await handle.query(pathwayStateQuery);
  }
  const end = until ?? addDays(state.anchors.birth ?? script.due, 3 * 366 + 40);
  // The last run holds the final state: sleep in steps, reading it while the workflow still answers.
  for (;;) {
    const now = osloDate(await env.currentTimeMs());
    if (state.status === 'closed' || now >= end) break;
    const next = addDays(now, 60) < end ? addDays(now, 60) : end;
    await sleepUntilDay(env, next);
    const described = await handle.describe();
    if (described.status.name !== 'RUNNING') break;
    state = await handle.query(pathwayStateQuery);
  }
  if (state.status !== 'closed') {
    const result = await handle.result().catch(() => undefined);
    if (result) state = { ...state, status: 'closed', closed: { exit: result.exit, on: result.closedOn, carePlanStatus: result.carePlanStatus } };
  }
  const handoffs = new Map<string, HandoffProgress>();
  for (const h of state.handoffs) {
    try {
      handoffs.set(h.key, await env.client.workflow.getHandle(handoffWorkflowId(familyId, h.key)).query(handoffQuery));
    } catch {
      // A closed handoff the server no longer answers queries for: its row keeps the family's view.
    }
  }
  const notices = (await store.search('Communication', { subject: MOTHER, _count: '1000' })).resources as Communication[];
  return { familyId, rows: sortRows([...rows, ...timelineRows(plan, state, handoffs, notices)]), state, refused };
}

function pathwayEvent(e: TrialEvent, date: IsoDate, plan: Plan): PathwayEvent {
  const eventId = `trial:${describeEvent(e)}:${date}`;
  if ('birth' in e) return { type: 'birth-registered', date: e.birth === true ? date : e.birth, child: CHILD, eventId };
  if ('pregnancyEnded' in e) return { type: 'pregnancy-ended', date, eventId };
  if ('dueDate' in e) return { type: 'due-date-changed', date, dueDate: e.dueDate, eventId };
  if ('contact' in e) {
    const step = plan.steps.find((s) => s.id === e.contact);
    if (!step) throw new TrialInputError(`no step '${e.contact}' in ${plan.canonical}`);
    return { type: 'encounter-recorded', date, status: e.status ?? 'finished', step: e.contact, ...(step.kind !== 'intervention' ? { code: step.code } : {}), eventId };
  }
  if ('screening' in e) return { type: 'screening-recorded', date, instrument: e.screening, score: e.score, ...(e.items ? { items: e.items } : {}), ...(e.step ? { step: e.step } : {}), eventId };
  if ('consent' in e) return { type: 'consent-changed', date, basis: e.consent, status: e.status, eventId };
  if ('moved' in e) return { type: 'moved', date, eventId };
  if ('ended' in e) return { type: 'ended', date, ...(typeof e.ended === 'string' ? { reason: e.ended } : {}), eventId };
  throw new TrialInputError(`not an event the pathway takes: ${JSON.stringify(e)}`);
}

/** The rows a run left: planned steps with their windows, rules fired, handoffs with deadlines, checks, notices, the exit. */
export function timelineRows(plan: Plan, state: PathwayState, handoffs: Map<string, HandoffProgress>, notices: Communication[]): TimelineRow[] {
  const rows: TimelineRow[] = [];
  const first = state.timeline[0];
  if (first) rows.push({ on: first.on, kind: 'enrolled', what: first.what });
  for (const s of state.steps) {
    const step = plan.steps.find((p) => p.id === s.step);
    const on = s.target ?? s.start ?? s.doneOn;
    if (!step || !on) continue;
    rows.push({
      on,
      kind: step.kind,
      id: s.key,
      what: step.title,
      ...(s.earliest && s.latest ? { window: `${s.earliest}..${s.latest}` } : s.start && s.end ? { window: `${s.start}..${s.end}` } : {}),
      status: s.status + (s.doneOn ? ` ${s.doneOn}` : '') + (s.result ? ` (score ${s.result.score}${s.result.band ? `, ${s.result.band}` : ''})` : ''),
    });
  }
  for (const t of state.timeline) if (t.rule) rows.push({ on: t.on, kind: 'rule', id: t.rule, what: t.what });
  for (const h of state.handoffs) {
    const progress = handoffs.get(h.key);
    rows.push({ on: h.openedOn, kind: 'handoff', id: h.handoff, what: plan.handoffs[h.handoff]?.title ?? h.handoff, ...(progress?.deadline ? { deadline: progress.deadline } : {}), status: progress?.status ?? h.status });
  }
  for (const c of state.checks) rows.push({ on: c.openedOn, kind: 'check', id: c.check, what: plan.checks[c.check]?.title ?? c.check, deadline: c.due, status: c.status });
  for (const n of notices) {
    const text = n.payload?.[0]?.contentString ?? '';
    const kind = text.startsWith('Reminder:') ? 'reminder' : text.startsWith('Escalated') ? 'escalation' : 'notice';
    rows.push({ on: n.sent!.slice(0, 10), kind, what: text, ...(n.priority ? { status: n.priority } : {}) });
  }
  if (state.closed) rows.push({ on: state.closed.on, kind: 'exit', id: state.closed.exit, what: plan.exits.find((x) => x.id === state.closed!.exit)?.title ?? state.closed.exit, status: state.closed.carePlanStatus });
  return rows;
}
