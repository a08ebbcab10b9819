/**
 * Failed events in the coordinator API (JSON, under /api, behind the same
 * audit, authentication and organisation access as the FHIR API):
 *
 *   GET  /api/failed-events                  the caller's organisation's failed events;
 *                                            state=open (default: failed or retry) | closed | all
 *   GET  /api/failed-events/:id              one
 *   POST /api/failed-events/:id/retry        another attempt with the resource as it is now (202; the
 *                                            event router makes it on its next pass)
 *   POST /api/failed-events/:id/dismiss      body {"reason": "..."}: closed without delivery
 *
 * A failed event is the caller's when it may read the stored version that failed (the
 * EpisodeOfCare its organisation manages, a family member's Observation...), decided by the same
 * organisation-level read filter as the FHIR API; another organisation's answers 404. Listing needs
 * `EpisodeOfCare.s` or `CarePlan.s` (e.g. system/*.rs), reading one `.r`; retrying and dismissing
 * change what reaches the family's pathway and need `EpisodeOfCare.u` or `CarePlan.u` (the
 * coordinator demo client has CarePlan.cruds). Each call leaves an AuditEvent naming the failed
 * resource (and, for a retry or dismissal, an update of it and the mother); the failed event keeps
 * who asked for the retry or dismissed it, and why.
 */
import express, { type Request, type Response } from 'express';
import type { Resource } from '@medplum/fhirtypes';
import type { FailedEvent, FailedEventRow, FailedEvents, FailedEventState } from '../../events/failed-events';
import { badRequest, conflict, notFound, OperationOutcomeError } from '../../fhir/outcome';
import { describeAudit } from '../audit';
import { checkScope, sendAuthError } from '../auth';

export interface FailedEventsApiOptions {
  failed: FailedEvents;
  /** Per request, the organisation-level read filter (absent: authentication disabled). */
  visibility?: (req: Request, res?: Response) => ((resources: Resource[]) => Promise<Resource[]>) | undefined;
}

/** The API shape: the row without the resource's content (GET the resource for that, under its own access check). */
const publicView = ({ content: _content, ...event }: FailedEventRow): FailedEvent => event;

const STATES: Record<string, FailedEventState[]> = {
  open: ['failed', 'retry'],
  closed: ['delivered', 'superseded', 'dismissed'],
  all: ['failed', 'retry', 'delivered', 'superseded', 'dismissed'],
};

export function failedEventsApi(options: FailedEventsApiOptions): express.Router {
  const { failed } = options;
  const router = express.Router();

  /** Scopes: any one of the pairs suffices (the coordinator role has CarePlan.u, a system EpisodeOfCare.u). */
  const allowed = (req: Request, res: Response, alternatives: [string, 'search' | 'read' | 'update'][]): boolean => {
    if (!req.forlop) return true; // authentication disabled (explicit, logged flag)
    const errors = alternatives.map(([type, interaction]) => checkScope(req, type, interaction));
    if (errors.some((e) => e === undefined)) return true;
    sendAuthError(res, errors[0]!);
    return false;
  };

  const visible = async (req: Request, rows: FailedEventRow[]): Promise<FailedEventRow[]> => {
    const filter = options.visibility?.(req);
    if (!filter) return rows;
    const allowedContent = new Set(await filter(rows.map((r) => r.content)));
    return rows.filter((r) => allowedContent.has(r.content));
  };

  const one = async (req: Request): Promise<FailedEventRow> => {
    const id = req.params.id as string;
    const row = await failed.get(id);
    if (!row || (await visible(req, [row])).length === 0) throw new OperationOutcomeError(notFound(`No failed event ${id} that this client may see`), 404);
    return row;
  };

  const by = (req: Request) => (req.forlop ? `${req.forlop.clientId} (${req.forlop.organisation.orgnr})` : 'anonymous');
  const entity = (row: FailedEventRow) => row.resource.replace(/\/_history\/.*$/, '');

  const route = (handler: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: express.NextFunction) => {
    handler(req, res).catch(next);
  };

  router.get(
    '/failed-events',
    route(async (req, res) => {
      if (!allowed(req, res, [['EpisodeOfCare', 'search'], ['CarePlan', 'search']])) return;
      const unknown = Object.keys(req.query).filter((k) => k !== 'state');
      if (unknown.length > 0) throw new OperationOutcomeError(badRequest(`Unknown parameter ${unknown[0]}: use state`, unknown[0]), 400);
      const state = req.query.state ?? 'open';
      const states = typeof state === 'string' ? STATES[state] : undefined;
      if (!states) throw new OperationOutcomeError(badRequest('state must be open, closed or all', 'state'), 400);
      const rows = await visible(req, await failed.list(states));
      describeAudit(res, { interaction: 'search-type', entities: rows.map(entity) });
      res.json({ total: rows.length, failedEvents: rows.map(publicView) });
    }),
  );

  router.get(
    '/failed-events/:id',
    route(async (req, res) => {
      if (!allowed(req, res, [['EpisodeOfCare', 'read'], ['CarePlan', 'read']])) return;
      const row = await one(req);
      describeAudit(res, { interaction: 'read', entities: [entity(row)] });
      res.json(publicView(row));
    }),
  );

  router.post(
    '/failed-events/:id/retry',
    route(async (req, res) => {
      if (!allowed(req, res, [['EpisodeOfCare', 'update'], ['CarePlan', 'update']])) return;
      const row = await one(req);
      if (!(await failed.requestRetry(row.id, by(req)))) throw new OperationOutcomeError(conflict(`Failed event ${row.id} is ${row.state}; only an open one (failed or retry) can be retried`), 409);
      describeAudit(res, { interaction: 'update', entities: [entity(row), row.patient] });
      res.status(202).json(publicView((await failed.get(row.id))!));
    }),
  );

  router.post(
    '/failed-events/:id/dismiss',
    express.json({ limit: '16kb', type: ['application/json', 'application/fhir+json'] }),
    route(async (req, res) => {
      if (!allowed(req, res, [['EpisodeOfCare', 'update'], ['CarePlan', 'update']])) return;
      const row = await one(req);
      const reason = (req.body as { reason?: unknown } | undefined)?.reason;
      if (typeof reason !== 'string' || reason.trim().length < 3) throw new OperationOutcomeError(badRequest('Give the reason for dismissing it: a JSON body {"reason": "..."}', 'reason'), 400);
      if (!(await failed.dismiss(row.id, reason.trim(), by(req)))) throw new OperationOutcomeError(conflict(`Failed event ${row.id} is ${row.state}; only an open one (failed or retry) can be dismissed`), 409);
      describeAudit(res, { interaction: 'update', entities: [entity(row), row.patient] });
      res.json(publicView((await failed.get(row.id))!));
    }),
  );

  return router;
}
