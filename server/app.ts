/**
 * The Express app: the FHIR API under /fhir and the coordinator API under
 * /api, both behind the same audit and authentication middleware. Built by a factory with no side
 * effects at import; authentication, authorisation and audit middleware are
 * passed in and mounted before the routes.
 */
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { capabilityStatement, handle, type FhirRequest } from '../fhir/rest';
import { badRequest, notFound, OperationOutcomeError, serverError, statusOf, tooLarge, unsupportedMediaType } from '../fhir/outcome';
import type { AccessScope, FhirStore } from '../fhir/store';
import type { Resource } from '@medplum/fhirtypes';

export interface AppOptions {
  store: FhirStore;
  /** Public base URL of the server (for Location headers and paging links); default from the request. */
  publicUrl?: string;
  /** Middleware run before every /fhir route except metadata (audit first, then authentication), in order. */
  fhirMiddleware?: RequestHandler[];
  /** Middleware run after the body is parsed (scope checks that look at transaction entries). */
  authorize?: RequestHandler[];
  /** Per request, what the caller may see (organisation-level access); absent: everything. Given `res`, it records what it lets through in the request's AuditEvent. */
  visibility?: (req: express.Request, res?: express.Response) => ((resources: Resource[]) => Promise<Resource[]>) | undefined;
  /** Per request, the organisation-level write check; absent: every change. Given `res`, it names the family members a change is about in the request's AuditEvent. */
  writeAccess?: (req: express.Request, res?: express.Response) => ((change: { before?: Resource; after?: Resource }) => Promise<void>) | undefined;
  /** Per request, what the caller may see as the store's queries take it (searches, conditional matches); absent: everything. */
  searchScope?: (req: express.Request) => Promise<AccessScope | undefined> | AccessScope | undefined;
  /** Per request, whether the caller's scopes let it read a type (for _include/_revinclude); absent: every type. */
  readScope?: (req: express.Request) => ((resourceType: string) => boolean) | undefined;
  /** Largest accepted request body; default 1 MB. */
  bodyLimit?: string;
  /** The coordinator API (server/coordinator), mounted at /api behind fhirMiddleware. */
  coordinatorApi?: express.Router;
  /** The coordinator dashboard (server/dashboard): its pages at /, its login under /auth; it calls /api and /fhir as a client. */
  dashboard?: express.Router;
}

const FHIR_JSON = 'application/fhir+json';
const JSON_PATCH = 'application/json-patch+json';

export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const router = express.Router();
  // The CapabilityStatement is public, as SMART clients read it before they authenticate.
  router.get('/metadata', (req, res) => {
    const baseUrl = `${options.publicUrl ?? `${req.protocol}://${req.get('host')}`}/fhir`;
    res.type(FHIR_JSON).send(JSON.stringify(capabilityStatement(baseUrl)));
  });
  for (const mw of options.fhirMiddleware ?? []) router.use(mw);
  router.use((req, _res, next) => {
    if (['POST', 'PUT', 'PATCH'].includes(req.method)) {
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
      if (type !== FHIR_JSON && type !== 'application/json' && !(req.method === 'PATCH' && type === JSON_PATCH)) {
        return next(new OperationOutcomeError(unsupportedMediaType(`Unsupported content type ${type || '(none)'}: use ${FHIR_JSON}`), 415));
      }
    }
    next();
  });
  router.use(express.json({ type: [FHIR_JSON, 'application/json', JSON_PATCH], limit: options.bodyLimit ?? '1mb', strict: true }));
  for (const mw of options.authorize ?? []) router.use(mw);
  router.use(async (req, res, next) => {
    const baseUrl = `${options.publicUrl ?? `${req.protocol}://${req.get('host')}`}/fhir`;
    let scope: AccessScope | undefined;
    try {
      scope = await options.searchScope?.(req);
    } catch (error) {
      return next(error);
    }
    const request: FhirRequest = {
      method: req.method,
      path: req.path,
      query: req.method === 'POST' && req.path.endsWith('/_search') ? { ...(req.query as Record<string, string>), ...(req.body ?? {}) } : (req.query as Record<string, string | string[]>),
      body: req.body,
      headers: { ifMatch: req.get('if-match') ?? undefined, ifNoneExist: req.get('if-none-exist') ?? undefined },
      baseUrl,
      visible: options.visibility?.(req, res),
      writable: options.writeAccess?.(req, res),
      scope,
      mayRead: options.readScope?.(req),
    };
    handle(options.store, request).then((response) => {
      res.status(response.status);
      for (const [k, v] of Object.entries(response.headers ?? {})) res.setHeader(k, v);
      if (response.body === undefined) return res.end();
      res.type(FHIR_JSON).send(JSON.stringify(response.body));
    }, next);
  });
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    let outcomeError: OperationOutcomeError;
    if (error instanceof OperationOutcomeError) outcomeError = error;
    else if (error?.type === 'entity.too.large') outcomeError = new OperationOutcomeError(tooLarge(`Request body is larger than ${options.bodyLimit ?? '1mb'}`), 413);
    else if (error?.type === 'entity.parse.failed') outcomeError = new OperationOutcomeError(badRequest('Malformed JSON: the request body is not valid JSON'), 400);
    else outcomeError = new OperationOutcomeError(serverError(), 500);
    res.status(outcomeError.status ?? statusOf(outcomeError.outcome)).type(FHIR_JSON).send(JSON.stringify(outcomeError.outcome));
  };
  router.use(onError);
  app.use('/fhir', router);
  if (options.coordinatorApi) {
    const api = express.Router();
    for (const mw of options.fhirMiddleware ?? []) api.use(mw);
    api.use(options.coordinatorApi);
    api.use((req, _res, next) => next(new OperationOutcomeError(notFound(`No coordinator API route ${req.method} ${req.path}`), 404)));
    api.use(onError);
    app.use('/api', api);
  }
  if (options.dashboard) app.use(options.dashboard);
  return app;
}
