/**
 * The coordinator API (JSON): the families a coordinator follows, each with
 * its phase, next due and overdue contacts and open handoffs with the time
 * left before their deadline, and one family's timeline.
 *
 *   GET /api/families                  list; filters: organisation, phase, overdue=true,
 *                                      status=active|closed|all (default active); paging: _count, page
 *   GET /api/families/:familyId        one family: the pathway view, handoffs and the timeline
 *   GET /api/families/:familyId/timeline
 *
 * Which families a caller sees is decided exactly as for the FHIR API: a
 * family is listed only if the caller may read its CarePlan (organisation
 * access, server/fhir-access.ts), and the scope must allow reading CarePlans
 * (and Tasks, for the handoffs). What is shown comes from the family's
 * workflow (its queries), so it is what the workflow itself holds now; the
 * CarePlan in the store only says which families exist and who takes part.
 * Errors are OperationOutcomes, as on the FHIR API.
 */
import express, { type Request, type Response } from 'express';
import type { CarePlan, Communication, Resource } from '@medplum/fhirtypes';
import { TIMELINE_NOTICE_CATEGORIES } from '../../events/coordinator-notices';
import { FORLOP_SYSTEMS } from '../../fhir/builders/pathway';
import { badRequest, notFound, OperationOutcomeError } from '../../fhir/outcome';
import type { FhirStore } from '../../fhir/store';
import type { HandoffProgress } from '../../workflows/handoff-state';
import type { HandoffState, TimelineEntry } from '../../workflows/pathway-state';
import type { PathwayView, StepView } from '../../workflows/pathway-views';
import { describeAudit } from '../audit';
import { checkScope, sendAuthError } from '../auth';

/** What the API reads from the workflows (app/coordinator-reader.ts queries them over Temporal). */
export interface FamilyReader {
  /** The family's pathway as its workflow holds it; undefined if there is no such workflow. */
  pathway(familyId: string): Promise<PathwayView | undefined>;
  timeline(familyId: string): Promise<TimelineEntry[] | undefined>;
  /** A handoff's progress (deadline, escalations); undefined if there is no such workflow. */
  handoff(familyId: string, key: string): Promise<HandoffProgress | undefined>;
}

export interface CoordinatorApiOptions {
  store: FhirStore;
  families: FamilyReader;
  /** Per request, the organisation-level read filter (absent: authentication disabled, everything visible). */
  visibility?: (req: Request) => ((resources: Resource[]) => Promise<Resource[]>) | undefined;
  /** Today's date (Europe/Oslo) for "days left"; default the clock. */
  today?: () => string;
}

export interface HandoffSummary {
  key: string;
  handoff: string;
  status: HandoffState['status'];
  openedOn: string;
  /** The day a decision is due, once the receiver has the referral; absent once decided. */
  deadline?: string;
  /** Days from today to the deadline (negative: overdue). */
  daysLeft?: number;
  escalations: number;
  /** The receiver had not opened it (Task still requested) when the definition's `unopened` limit passed, and the coordinator was told. */
  unopenedEscalated?: boolean;
  /** Why it is on hold: its legal basis was withdrawn or refused (not sent at all, or the Task put on hold). */
  held?: string;
  /** A referral another system wrote: its ServiceRequest. */
  serviceRequest?: string;
}

export interface FamilySummary {
  familyId: string;
  carePlan: string;
  patient?: string;
  canonical: string;
  status: PathwayView['status'];
  phase?: { id: string; title: string };
  nextDue: StepSummary[];
  overdue: StepSummary[];
  openHandoffs: HandoffSummary[];
  openChecks: PathwayView['openChecks'];
  organisations: string[];
}

export interface StepSummary {
  key: string;
  step: string;
  title: string;
  kind: StepView['kind'];
  deliveredBy: string;
  status: StepView['status'];
  target?: string;
  /** The window the contact is due in. */
  earliest?: string;
  latest?: string;
  nextSession?: string;
}

/** A timeline entry: the workflow's, or a notice about the event path (its Communication and kind: failed-event, unmatched-referral). */
export type TimelineItem = TimelineEntry & { notice?: string; kind?: string };

const MAX_PAGE = 200;
/** The Oslo day of a FHIR date or dateTime. */
const osloDay = (value: string) => (value.length <= 10 ? value : new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Oslo' }).format(new Date(value)));
const osloToday = () => new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Oslo' }).format(new Date());
const daysBetween = (from: string, to: string) => Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);

function familyIdOf(plan: CarePlan): string | undefined {
  return plan.identifier?.find((i) => i.system === FORLOP_SYSTEMS.family)?.value;
}

/** The organisations a family's CarePlan names: its author, contributors and the activities' performers. */
function organisationsOf(plan: CarePlan): string[] {
  const refs = [plan.author?.reference, ...(plan.contributor ?? []).map((c) => c.reference), ...(plan.activity ?? []).flatMap((a) => (a.detail?.performer ?? []).map((p) => p.reference))];
  return [...new Set(refs.filter((r): r is string => !!r && r.startsWith('Organization/')))].sort();
}

function stepSummary(view: StepView): StepSummary {
  return {
    key: view.key,
    step: view.step,
    title: view.title,
    kind: view.kind,
    deliveredBy: view.deliveredBy,
    status: view.status,
    ...(view.target ? { target: view.target } : {}),
    ...(view.earliest ? { earliest: view.earliest } : {}),
    ...(view.latest ? { latest: view.latest } : {}),
    ...(view.nextSession ? { nextSession: view.nextSession } : {}),
  };
}

function pageOf(req: Request): { size: number; page: number } {
  const size = req.query._count === undefined ? 50 : Number(req.query._count);
  const page = req.query.page === undefined ? 1 : Number(req.query.page);
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE) throw new OperationOutcomeError(badRequest(`_count must be a whole number from 1 to ${MAX_PAGE}`, '_count'), 400);
  if (!Number.isInteger(page) || page < 1) throw new OperationOutcomeError(badRequest('page must be a whole number from 1', 'page'), 400);
  return { size, page };
}

function single(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new OperationOutcomeError(badRequest(`Give ${name} once, with a value`, name), 400);
  return value;
}

export function coordinatorApi(options: CoordinatorApiOptions): express.Router {
  const { store, families } = options;
  const today = options.today ?? osloToday;
  const router = express.Router();

  const requireScopes = (req: Request, res: Response, checks: [string, 'read' | 'search'][]): boolean => {
    if (!req.forlop) return true; // authentication disabled (explicit, logged flag)
    for (const [type, interaction] of checks) {
      const error = checkScope(req, type, interaction);
      if (error) {
        sendAuthError(res, error);
        return false;
      }
    }
    return true;
  };

  /** Every CarePlan of a Forløp family the caller may see, with the given status(es). */
  async function visiblePlans(req: Request, statuses: string[]): Promise<CarePlan[]> {
    const filter = options.visibility?.(req);
    const plans: CarePlan[] = [];
    for (let offset = 0; ; ) {
      const page = await store.search('CarePlan', { identifier: `${FORLOP_SYSTEMS.family}|`, status: statuses.join(','), _count: '1000', _offset: String(offset), _sort: '_lastUpdated' });
      const found = page.resources as CarePlan[];
      plans.push(...((filter ? await filter(found) : found) as CarePlan[]));
      if (found.length < 1000) break;
      offset += found.length;
    }
    return plans.filter((p) => familyIdOf(p) !== undefined);
  }

  async function handoffSummary(familyId: string, h: HandoffState, on: string): Promise<HandoffSummary> {
    const progress = await families.handoff(familyId, h.key);
    const deadline = progress?.deadline;
    return {
      key: h.key,
      handoff: h.handoff,
      status: progress?.status ?? h.status,
      openedOn: h.openedOn,
      // The deadline is for a decision: once accepted or rejected, or while held, it no longer runs.
      ...(deadline && !progress?.decidedOn && !progress?.held ? { deadline, daysLeft: daysBetween(on, deadline) } : {}),
      escalations: progress?.escalationsSent ?? 0,
      ...(progress?.unopenedEscalated ? { unopenedEscalated: true } : {}),
      ...(h.held || progress?.held ? { held: h.held ?? progress?.held } : {}),
      ...(h.serviceRequest ? { serviceRequest: h.serviceRequest } : {}),
    };
  }

  async function summary(plan: CarePlan, view: PathwayView, on: string): Promise<FamilySummary> {
    return {
      familyId: view.familyId,
      carePlan: `CarePlan/${plan.id}`,
      ...(plan.subject?.reference ? { patient: plan.subject.reference } : {}),
      canonical: view.canonical,
      status: view.status,
      ...(view.phase ? { phase: view.phase } : {}),
      nextDue: view.nextDue.map(stepSummary),
      overdue: view.overdue.map(stepSummary),
      openHandoffs: await Promise.all(view.openHandoffs.map((h) => handoffSummary(view.familyId, h, on))),
      openChecks: view.openChecks,
      organisations: organisationsOf(plan),
    };
  }

  /** The family's CarePlan if the caller may see it; otherwise 404, as the FHIR API answers (no hint that it exists). */
  async function visibleFamily(req: Request, familyId: string): Promise<CarePlan> {
    const found = (await store.search('CarePlan', { identifier: `${FORLOP_SYSTEMS.family}|${familyId}`, _count: '1' })).resources as CarePlan[];
    const filter = options.visibility?.(req);
    const visible = filter ? ((await filter(found)) as CarePlan[]) : found;
    if (visible.length === 0) throw new OperationOutcomeError(notFound(`No family ${familyId} that this client may see`), 404);
    return visible[0];
  }

  /**
   * The family's timeline: what its workflow holds, with Forløp's notices about the event path
   * (a change that could not be delivered, a referral no handoff takes) from the FHIR store, in
   * date order. A notice entry names its Communication and its kind.
   */
  async function timelineOf(plan: CarePlan, familyId: string): Promise<TimelineItem[] | undefined> {
    const timeline = await families.timeline(familyId);
    if (!timeline) return undefined;
    const patient = plan.subject?.reference;
    if (!patient) return timeline;
    const category = TIMELINE_NOTICE_CATEGORIES.map((code) => `${FORLOP_SYSTEMS.communicationCategory}|${code}`).join(',');
    const notices = (await store.search('Communication', { subject: patient, category, _count: '200' })).resources as Communication[];
    const items: TimelineItem[] = [
      ...timeline,
      ...notices.map((c) => ({
        on: osloDay(c.sent ?? c.meta?.lastUpdated ?? ''),
        what: c.payload?.[0]?.contentString ?? '',
        notice: `Communication/${c.id}`,
        kind: c.category?.[0]?.coding?.find((x) => x.system === FORLOP_SYSTEMS.communicationCategory)?.code ?? 'notice',
      })),
    ];
    // A stable sort: the workflow's own entries keep their order within a day.
    return items.sort((a, b) => a.on.localeCompare(b.on));
  }

  const route = (handler: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: express.NextFunction) => {
    handler(req, res).catch(next);
  };

  router.get(
    '/families',
    route(async (req, res) => {
      if (!requireScopes(req, res, [['CarePlan', 'search'], ['Task', 'search']])) return;
      const known = new Set(['organisation', 'phase', 'overdue', 'status', '_count', 'page']);
      const unknown = Object.keys(req.query).filter((k) => !known.has(k));
      if (unknown.length > 0) throw new OperationOutcomeError(badRequest(`Unknown parameter ${unknown[0]}: use ${[...known].join(', ')}`, unknown[0]), 400);
      const { size, page } = pageOf(req);
      const organisation = single(req, 'organisation');
      if (organisation !== undefined && !/^Organization\/[A-Za-z0-9\-.]{1,64}$/.test(organisation)) throw new OperationOutcomeError(badRequest('organisation must be a reference such as Organization/sarpsborg-helsestasjon', 'organisation'), 400);
      const phase = single(req, 'phase');
      const overdue = single(req, 'overdue');
      if (overdue !== undefined && overdue !== 'true' && overdue !== 'false') throw new OperationOutcomeError(badRequest('overdue must be true or false', 'overdue'), 400);
      const status = single(req, 'status') ?? 'active';
      const statuses = { active: ['active', 'on-hold'], closed: ['completed', 'revoked'], all: ['active', 'on-hold', 'completed', 'revoked'] }[status];
      if (!statuses) throw new OperationOutcomeError(badRequest('status must be active, closed or all', 'status'), 400);

      let plans = await visiblePlans(req, statuses);
      if (organisation) plans = plans.filter((p) => organisationsOf(p).includes(organisation));
      if (phase) plans = plans.filter((p) => p.extension?.some((e) => e.url === FORLOP_SYSTEMS.phaseExtension && e.valueCoding?.code === phase));
      if (overdue !== undefined) plans = plans.filter((p) => (p.activity ?? []).some((a) => a.detail?.statusReason?.coding?.some((c) => c.system === FORLOP_SYSTEMS.stepState && c.code === 'overdue')) === (overdue === 'true'));
      const on = today();
      const slice = plans.slice((page - 1) * size, page * size);
      const rows = await Promise.all(
        slice.map(async (plan) => {
          const view = await families.pathway(familyIdOf(plan)!);
          return view ? summary(plan, view, on) : undefined;
        }),
      );
      const list = rows.filter((r): r is FamilySummary => r !== undefined);
      describeAudit(res, { interaction: 'search-type', entities: list.map((f) => f.carePlan) });
      res.json({ today: on, total: plans.length, page, pageSize: size, families: list, ...(page * size < plans.length ? { next: page + 1 } : {}) });
    }),
  );

  router.get(
    '/families/:familyId',
    route(async (req, res) => {
      if (!requireScopes(req, res, [['CarePlan', 'read'], ['Task', 'read']])) return;
      const familyId = req.params.familyId as string;
      const plan = await visibleFamily(req, familyId);
      describeAudit(res, { interaction: 'read', entities: [`CarePlan/${plan.id}`] });
      const view = await families.pathway(familyId);
      if (!view) throw new OperationOutcomeError(notFound(`Family ${familyId} has no pathway workflow`), 404);
      const on = today();
      res.json({ today: on, ...(await summary(plan, view, on)), anchors: view.anchors, ...(view.closed ? { closed: view.closed } : {}), timeline: (await timelineOf(plan, familyId)) ?? [] });
    }),
  );

  router.get(
    '/families/:familyId/timeline',
    route(async (req, res) => {
      if (!requireScopes(req, res, [['CarePlan', 'read']])) return;
      const familyId = req.params.familyId as string;
      const plan = await visibleFamily(req, familyId);
      describeAudit(res, { interaction: 'read', entities: [`CarePlan/${plan.id}`] });
      const timeline = await timelineOf(plan, familyId);
      if (!timeline) throw new OperationOutcomeError(notFound(`Family ${familyId} has no pathway workflow`), 404);
      res.json({ familyId, timeline });
    }),
  );

  return router;
}
