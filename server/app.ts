/**
 * The Express app: the FHIR API under /fhir and the coordinator API under
 * /api, both behind the same audit and authentication middleware. Built by a factory with no side
 * effects at import; authentication, authorisation and audit middleware are
 * passed in and mounted before the routes.
 */
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { capabilityStatement, handle, type CapabilityOptions, type FhirRequest } from '../fhir/rest';
import { badRequest, notFound, notSupported, OperationOutcomeError, serverError, statusOf, tooLarge, unsupportedMediaType } from '../fhir/outcome';
import type { AccessScope, FhirStore } from '../fhir/store';
import { MAX_DEPTH, tooDeep } from '../fhir/validate';
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
  /** What the CapabilityStatement declares beyond the routes: security, and which types clients can write. */
  capability?: CapabilityOptions;
  /** The SMART configuration (server/auth smartConfiguration), served without auth; absent: 404. */
  smartConfiguration?: object;
}

const FHIR_JSON = 'application/fhir+json';
const JSON_PATCH = 'application/json-patch+json';
const FORM = 'application/x-www-form-urlencoded';
/** _format values meaning JSON (https://hl7.org/fhir/R4/http.html#mime-type). */
const JSON_FORMATS = new Set(['json', FHIR_JSON, 'application/json', 'application/json+fhir']);

/**
 * Only JSON is served (https://hl7.org/fhir/R4/http.html#mime-type: a server
 * need not support XML): a request asking for something else by _format or
 * Accept gets 406, not JSON it did not ask for.
 */
const jsonOnly: RequestHandler = (req, _res, next) => {
  const format = req.query._format;
  if (format !== undefined && !(typeof format === 'string' && JSON_FORMATS.has(format.split(';')[0].trim()))) {
    return next(new OperationOutcomeError(notSupported(`_format=${String(format)} is not served: this server speaks JSON only (_format=json or ${FHIR_JSON})`, '_format'), 406));
  }
  if (format === undefined && req.headers.accept && !req.accepts([FHIR_JSON, 'application/json', 'application/json+fhir'])) {
    return next(new OperationOutcomeError(notSupported(`Accept: ${req.headers.accept} is not served: this server speaks JSON only (Accept: ${FHIR_JSON})`), 406));
  }
  next();
};

/** The parameters without those about the response's format (_format was checked by jsonOnly; _pretty is a hint). */
function withoutFormatting(query: Record<string, string | string[]>): Record<string, string | string[]> {
  if (query._format === undefined && query._pretty === undefined) return query;
  const { _format: _f, _pretty: _p, ...rest } = query;
  return rest;
}

/** A query's or form's parameters, repeated names as lists. */
function mergeParameters(...sources: unknown[]): Record<string, string | string[]> {
  const merged: Record<string, string | string[]> = {};
  for (const source of sources) {
    for (const [k, v] of Object.entries((source ?? {}) as Record<string, string | string[]>)) {
      const values = [...(merged[k] === undefined ? [] : ([] as string[]).concat(merged[k])), ...([] as string[]).concat(v)];
      merged[k] = values.length === 1 ? values[0] : values;
    }
  }
  return merged;
}

export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const router = express.Router();
  router.use(jsonOnly);
  // The CapabilityStatement is public, as SMART clients read it before they authenticate.
  router.get('/metadata', (req, res) => {
    const baseUrl = `${options.publicUrl ?? `${req.protocol}://${req.get('host')}`}/fhir`;
    res.type(FHIR_JSON).send(JSON.stringify(capabilityStatement(baseUrl, options.capability)));
  });
  // SMART App Launch 2.x "Metadata": served without authentication, relative to the FHIR base.
  router.get('/.well-known/smart-configuration', (_req, res, next) => {
    if (!options.smartConfiguration) return next(new OperationOutcomeError(notFound('This server runs without authentication or has no token endpoint configured (OIDC_TOKEN_ENDPOINT), so it has no SMART configuration'), 404));
    res.type('application/json').send(JSON.stringify(options.smartConfiguration));
  });
  for (const mw of options.fhirMiddleware ?? []) router.use(mw);
  router.use((req, _res, next) => {
    if (['POST', 'PUT', 'PATCH'].includes(req.method)) {
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
      // A search by POST sends its parameters as a form (https://hl7.org/fhir/R4/http.html#search).
      const form = req.method === 'POST' && req.path.endsWith('/_search') && (type === FORM || (type === '' && req.headers['content-length'] === '0'));
      if (!form && type !== FHIR_JSON && type !== 'application/json' && !(req.method === 'PATCH' && type === JSON_PATCH)) {
        return next(new OperationOutcomeError(unsupportedMediaType(`Unsupported content type ${type || '(none)'}: use ${FHIR_JSON}${req.path.endsWith('/_search') ? ` (or ${FORM} for a search)` : ''}`), 415));
      }
    }
    next();
  });
  router.use(express.json({ type: [FHIR_JSON, 'application/json', JSON_PATCH], limit: options.bodyLimit ?? '1mb', strict: true }));
  router.use(express.urlencoded({ type: FORM, extended: false, limit: options.bodyLimit ?? '1mb', parameterLimit: 1000 }));
  // A body nested deeper than FHIR content goes is refused before any recursive walk (validation, FHIRPath, access checks) sees it.
  router.use((req, _res, next) => {
    const deep = req.body && typeof req.body === 'object' ? tooDeep(req.body, typeof req.body.resourceType === 'string' ? req.body.resourceType : '(body)') : undefined;
    if (deep) return next(new OperationOutcomeError(badRequest(`The request body nests more than ${MAX_DEPTH} levels deep (see the expression); FHIR content is not nested that deep`, deep), 400));
    next();
  });
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
      query: withoutFormatting(req.method === 'POST' && req.path.endsWith('/_search') ? mergeParameters(req.query, req.body) : (req.query as Record<string, string | string[]>)),
      body: req.body,
      headers: { ifMatch: req.get('if-match') ?? undefined, ifNoneExist: req.get('if-none-exist') ?? undefined, prefer: req.get('prefer') ?? undefined },
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
    for (const [k, v] of Object.entries(outcomeError.headers)) res.setHeader(k, v);
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
