/**
 * Express middleware that records exactly one AuditEvent for every request,
 * whatever its outcome, and makes sure a response never reaches the client as
 * a success unless its AuditEvent was written.
 *
 * How audit cannot be skipped:
 * 1. Mount `auditTrail` FIRST, before authentication, so refused requests
 *    (401/403) are recorded too.
 * 2. It holds back the response: `writeHead`, `write` and `end` are wrapped
 *    and buffered. When the handler ends the response, the AuditEvent (with
 *    the final status) is written first; only after `write` resolves is the
 *    response sent. If the audit write fails, the held response is discarded
 *    and replaced by a 500 OperationOutcome, so the client never sees success
 *    for an unaudited call.
 * 3. If the connection closes before the handler ends the response (client
 *    gone, handler crashed without answering), the `close` handler records an
 *    aborted event (outcome 8).
 * 4. One guard per request ensures one AuditEvent, not zero and not two.
 * Limit: for a write, the change is stored before its AuditEvent. The FHIR
 * store should write the AuditEvent in the same transaction as the change
 * (then this middleware's write is the second line of defence); until then,
 * an audit failure after a committed write returns 500 and the operator is
 * alerted through `onWriteError`. Streaming responses (server-sent events)
 * must not be mounted behind this middleware; they are buffered until end.
 */
import type { AuditEvent } from '@medplum/fhirtypes';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { buildAuditEvent, type AuditActor, type CrossOrganisationAccess } from './audit-event';
import { classifyFhirRequest, type RestInteraction } from './fhir-request';

export interface AuditTrailOptions {
  /** Stores the AuditEvent durably; the response waits for it. */
  write: (auditEvent: AuditEvent) => Promise<void>;
  /** Path prefix of the FHIR API (default "/fhir"); requests under it are classified as FHIR interactions. */
  fhirBase?: string;
  /** AuditEvent.source; default observer "Forløp". */
  source?: { site?: string; observer: string };
  /** Token issuer, recorded as the identifier system of client ids. */
  issuer?: string;
  /** Called when an AuditEvent could not be written (alert the operator). Never receives resource bodies. */
  onWriteError?: (error: unknown, auditEvent: AuditEvent) => void;
  now?: () => Date;
}

/** What a route knows about the request, beyond its URL. */
export interface AuditDetails {
  interaction?: RestInteraction;
  /** Resources read or changed ("Type/id"), added to those the URL names. */
  entities?: string[];
  crossOrganisation?: CrossOrganisationAccess;
  outcomeDescription?: string;
}

const DETAILS = Symbol('forlop.audit');

/** Lets a route add to the request's AuditEvent (e.g. the resources a search returned, the legal basis). */
export function describeAudit(res: Response, details: AuditDetails): void {
  const current = (res.locals[DETAILS as unknown as string] ?? {}) as AuditDetails;
  res.locals[DETAILS as unknown as string] = {
    ...current,
    ...details,
    entities: [...(current.entities ?? []), ...(details.entities ?? [])],
    crossOrganisation:
      current.crossOrganisation || details.crossOrganisation
        ? {
            organisations: [...new Set([...(current.crossOrganisation?.organisations ?? []), ...(details.crossOrganisation?.organisations ?? [])])],
            legalBasis: details.crossOrganisation?.legalBasis ?? current.crossOrganisation?.legalBasis,
          }
        : undefined,
  } satisfies AuditDetails;
}

const AUDIT_FAILED_OUTCOME = JSON.stringify({
  resourceType: 'OperationOutcome',
  issue: [
    {
      severity: 'error',
      code: 'exception',
      diagnostics: 'The request could not be audited, so its result is withheld. Treat it as failed; if it was a write, read the resource before retrying.',
    },
  ],
});

type WriteArgs = [chunk: unknown, encoding?: BufferEncoding | ((error?: Error | null) => void), callback?: (error?: Error | null) => void];

function relativeFhirPath(url: string, fhirBase: string): string | undefined {
  const path = url.split('?')[0];
  if (path === fhirBase) return '/';
  return path.startsWith(`${fhirBase}/`) ? path.slice(fhirBase.length) : undefined;
}

function actorOf(req: Request, issuer: string | undefined): AuditActor | undefined {
  const auth = req.forlop;
  if (!auth) return undefined;
  return { clientId: auth.clientId, issuer, organisation: auth.organisation, user: auth.user, role: auth.role };
}

export function auditTrail(options: AuditTrailOptions): RequestHandler {
  const fhirBase = (options.fhirBase ?? '/fhir').replace(/\/+$/, '');
  const source = options.source ?? { observer: 'Forløp' };
  const now = options.now ?? (() => new Date());

  return (req: Request, res: Response, next: NextFunction) => {
    let recorded = false;
    let ended = false;
    let flushing = false;
    let pendingHead: unknown[] | undefined;
    const chunks: WriteArgs[] = [];
    const callbacks: ((error?: Error | null) => void)[] = [];
    const originalWriteHead = res.writeHead.bind(res) as (...args: unknown[]) => Response;
    const originalWrite = res.write.bind(res) as (...args: unknown[]) => boolean;
    const originalEnd = res.end.bind(res) as (...args: unknown[]) => Response;

    const event = (status: number, aborted: boolean): AuditEvent => {
      const details = (res.locals[DETAILS as unknown as string] ?? {}) as AuditDetails;
      const relative = relativeFhirPath(req.originalUrl, fhirBase);
      const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : undefined;
      const info = relative !== undefined ? classifyFhirRequest(req.method, relative, query !== undefined) : undefined;
      const entities: string[] = [];
      if (info?.resourceType && info.id) entities.push(`${info.resourceType}/${info.id}${info.versionId ? `/_history/${info.versionId}` : ''}`);
      // The version a write made (Location) or a read handed out (Content-Location).
      const location = res.getHeader('location') ?? res.getHeader('content-location');
      if (typeof location === 'string') {
        const path = relativeFhirPath(new URL(location, 'http://x').pathname, fhirBase);
        const located = path?.replace(/^\//, '');
        if (located) entities.push(located);
        // A Patient created or updated is the event's patient too: unversioned, as the patient slice
        // names one. (A Patient read is named so already, by its URL; the event lists each entity once.)
        if (located?.startsWith('Patient/')) entities.push(located.replace(/\/_history\/.*$/, ''));
      }
      entities.push(...(details.entities ?? []));
      const interaction = details.interaction ?? info?.interaction ?? 'unknown';
      const isSearch = interaction === 'search-type' || interaction === 'search-system';
      let searchQuery = isSearch ? query : undefined;
      if (isSearch && req.method === 'POST' && req.body && typeof req.body === 'object') {
        searchQuery = new URLSearchParams(req.body as Record<string, string>).toString();
      }
      return buildAuditEvent({
        interaction,
        method: req.method,
        entities,
        query: searchQuery,
        status,
        aborted,
        outcomeDescription: details.outcomeDescription,
        actor: actorOf(req, options.issuer),
        crossOrganisation: details.crossOrganisation,
        network: { address: req.ip },
        source,
        recorded: now(),
      });
    };

    const record = async (status: number, aborted: boolean): Promise<void> => {
      if (recorded) return;
      recorded = true;
      const auditEvent = event(status, aborted);
      try {
        await options.write(auditEvent);
      } catch (error) {
        options.onWriteError?.(error, auditEvent);
        throw error;
      }
    };

    const flush = () => {
      flushing = true;
      const done = () => callbacks.forEach((cb) => cb());
      if (pendingHead) originalWriteHead(...pendingHead);
      // The usual case, one body chunk: a single end() lets Node send headers and body together.
      const last = chunks.length > 0 ? chunks[chunks.length - 1] : undefined;
      for (const args of chunks.slice(0, -1)) originalWrite(...args);
      if (last) originalEnd(last[0], typeof last[1] === 'string' ? last[1] : undefined, done);
      else originalEnd(done);
    };

    const replaceWithFailure = () => {
      flushing = true;
      if (!res.headersSent) {
        for (const name of res.getHeaderNames()) res.removeHeader(name);
        res.statusCode = 500;
        res.setHeader('content-type', 'application/fhir+json; charset=utf-8');
        res.setHeader('content-length', Buffer.byteLength(AUDIT_FAILED_OUTCOME));
      }
      originalEnd(AUDIT_FAILED_OUTCOME, () => callbacks.forEach((cb) => cb()));
    };

    res.writeHead = ((...args: unknown[]) => {
      if (flushing) return originalWriteHead(...args);
      pendingHead = args;
      return res;
    }) as typeof res.writeHead;

    res.write = ((...args: WriteArgs) => {
      if (flushing) return originalWrite(...args);
      const cb = args.find((a): a is (error?: Error | null) => void => typeof a === 'function');
      if (cb) callbacks.push(cb);
      chunks.push(args.filter((a) => typeof a !== 'function') as WriteArgs);
      return true;
    }) as typeof res.write;

    res.end = ((...args: unknown[]) => {
      if (flushing) return originalEnd(...args);
      if (ended) return res;
      ended = true;
      const cb = args.find((a): a is () => void => typeof a === 'function');
      if (cb) callbacks.push(cb);
      const data = args.filter((a) => typeof a !== 'function');
      if (data.length > 0 && data[0] !== undefined && data[0] !== null) chunks.push(data as WriteArgs);
      const status = pendingHead && typeof pendingHead[0] === 'number' ? pendingHead[0] : res.statusCode;
      record(status, false).then(flush, replaceWithFailure);
      return res;
    }) as typeof res.end;

    res.on('close', () => {
      if (ended) return;
      // Connection gone before the handler answered: still exactly one AuditEvent.
      record(res.statusCode, true).catch(() => undefined);
    });

    next();
  };
}
