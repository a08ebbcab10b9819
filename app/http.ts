/**
 * The HTTP server's composition: the FHIR API and the coordinator API
 * behind the audit trail, authentication (bearer or DPoP tokens from the
 * configured issuer) and scope checks, one log line per request, and the
 * write-time checks (organisation access, enrolments the event router can
 * deliver). Used by `forlop start` and by the end-to-end tests, so both
 * run the same stack.
 */
import express from 'express';
import type { Client } from '@temporalio/client';
import type { Resource } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import { enrolmentWriteCheck } from '../events/enrolment-check';
import type { FailedEvents } from '../events/failed-events';
import type { FhirStore } from '../fhir/store';
import { DefinitionRegistry } from '../pathways/registry';
import { createApp } from '../server/app';
import { auditTrail, groupCommit } from '../server/audit';
import { authenticate, capabilityStatementSecurity, resolveAuthenticateOptions, smartConfiguration, type SecurityMetadataInput } from '../server/auth';
import { writableThroughApi } from '../server/auth/participation-rules';
import { fhirScopes, readScope } from '../server/fhir-authorization';
import { organisationAccessChecks } from '../server/fhir-access';
import { OrganisationHierarchy } from '../server/auth/organisation-hierarchy';
import { coordinatorApi } from '../server/coordinator/api';
import { DEFINITION_TYPES, definitionWriteAccess } from '../server/definition-writes';
import { failedEventsApi } from '../server/coordinator/failed-events';
import { createDashboard } from '../server/dashboard';
import type { Plan } from '../pathways/plan';
import { temporalFamilyReader } from './coordinator-reader';
import type { AuthSettings } from './config';
import { logRequests } from './logging';

export interface HttpStackOptions {
  store: FhirStore;
  /** The event router's failed events, for GET /api/failed-events; without it that route is absent. */
  failed?: FailedEvents;
  publicUrl: string;
  /** undefined: authentication disabled (only with the explicit flag; see config). */
  auth?: Pick<AuthSettings, 'audience' | 'jwksUri' | 'tokenEndpoint' | 'requireDpop'> & { issuer: string; organisations: Record<string, string> };
  onAuditWriteError?: (error: unknown) => void;
  /** A Temporal client for the coordinator API's workflow queries; without it there is no /api/families. */
  temporal?: Client;
  /** Today in Oslo for the coordinator API's "days left"; default the clock (tests on a time-skipping server pass its day). */
  today?: () => string;
  /** The definitions known now, for the check of published PlanDefinitions and of enrolments' pathway codes; default the built-in ones. */
  definitions?: () => DefinitionRegistry;
  /** One info line per request (method, path without query values, status, time, request id); none without it. */
  log?: Logger;
  /** The coordinator dashboard (needs auth and temporal): its OIDC client at the issuer, and where it calls the API. */
  dashboard?: DashboardSettings;
}

export interface DashboardSettings {
  clientId: string;
  clientSecret: string;
  /** The resource indicator (RFC 8707) of this API at the issuer. */
  resource: string;
  /** This server's own address for the dashboard's API calls (loopback). */
  apiBaseUrl: string;
  /** Service id -> Organization reference (referrals). */
  services: Record<string, string>;
  /** Called with the dashboard's stop function (it follows the change feed). */
  onStop?: (stop: () => Promise<void>) => void;
  onError?: (error: Error) => void;
}

let builtIn: DefinitionRegistry | undefined;
const builtInDefinitions = () => (builtIn ??= DefinitionRegistry.builtIn());

type WriteCheck = (change: { before?: Resource; after?: Resource }) => Promise<void>;

export async function buildHttpApp(options: HttpStackOptions): Promise<express.Express> {
  const { store } = options;
  const fhirMiddleware: express.RequestHandler[] = [
    // Concurrent requests' AuditEvents are stored together (one statement); each response still waits for its own.
    // They are built by buildAuditEvent, whose every variant passes full validation in its tests, and are stored
    // as built: validating each again took about 40 µs, some 4 % of an audited read.
    auditTrail({ write: groupCommit((events) => store.createAll(events, { validate: false })), issuer: options.auth?.issuer, onWriteError: options.onAuditWriteError }),
  ];
  let security: SecurityMetadataInput | undefined;
  if (options.auth) {
    const resolved = await resolveAuthenticateOptions(options.auth, { organisations: options.auth.organisations, publicBaseUrl: options.publicUrl });
    fhirMiddleware.push(authenticate(resolved));
    if (resolved.tokenEndpoint && 'uri' in resolved.jwks) {
      security = { issuer: options.auth.issuer, tokenEndpoint: resolved.tokenEndpoint, jwksUri: resolved.jwks.uri, dpopRequired: options.auth.requireDpop };
    }
  }
  const access = options.auth ? organisationAccessChecks(store, options.auth.organisations, new OrganisationHierarchy(store)) : undefined;
  const visibility = access?.readFilter;
  // Enrolments are checked before organisation access: a bad pathway code is the writer's to fix whoever it is.
  const definitions = options.definitions ?? builtInDefinitions;
  // Definitions (PlanDefinition, ActivityDefinition) by the operator's grant and the pathway checks; everything else by organisation.
  const byKind = definitionWriteAccess(definitions, access?.writeCheck);
  const writeAccess = (req: express.Request, res?: express.Response): WriteCheck => {
    const others = byKind(req, res);
    return async (change) => {
      enrolmentWriteCheck(definitions())(change);
      await others?.(change);
    };
  };
  const api = express.Router();
  if (options.temporal) api.use(coordinatorApi({ store, families: temporalFamilyReader(options.temporal), visibility, today: options.today }));
  if (options.failed) api.use(failedEventsApi({ failed: options.failed, visibility }));
  let dashboard: express.Router | undefined;
  if (options.dashboard && options.auth && options.temporal) {
    const settings = options.dashboard;
    // Read at the first page that needs it, not at start-up.
    let registry: DefinitionRegistry | undefined;
    const plans = new Map<string, Plan | undefined>();
    const built = createDashboard({
      publicUrl: options.publicUrl,
      apiBaseUrl: settings.apiBaseUrl,
      login: { issuer: options.auth.issuer, clientId: settings.clientId, clientSecret: settings.clientSecret, resource: settings.resource },
      store,
      plans: (canonical) => {
        // Compiled once per definition (a page of 1,000 families asks 1,000 times); one this server does not have shows ids instead of titles.
        registry ??= (options.definitions ?? builtInDefinitions)();
        if (!plans.has(canonical)) plans.set(canonical, registry.canonicals().includes(canonical) ? registry.plan(canonical) : undefined);
        return plans.get(canonical);
      },
      services: settings.services,
      onError: settings.onError,
    });
    settings.onStop?.(built.stop);
    dashboard = built.router;
  }
  const app = createApp({
    store,
    publicUrl: options.publicUrl,
    fhirMiddleware,
    authorize: options.auth ? [fhirScopes()] : [],
    visibility,
    writeAccess,
    searchScope: access?.searchScope,
    readScope: options.auth ? readScope : undefined,
    // With access checks on, the statement declares writes only for the types some client can be allowed to write:
    // by organisation (the participation rules), or pathway definitions by an operator's grant (server/definition-writes).
    capability: options.auth ? { security: security && capabilityStatementSecurity(security), writable: (type) => writableThroughApi(type) || DEFINITION_TYPES.includes(type) } : undefined,
    smartConfiguration: security && smartConfiguration(security),
    coordinatorApi: options.temporal || options.failed ? api : undefined,
    dashboard,
  });
  if (!options.log) return app;
  const outer = express();
  outer.disable('x-powered-by');
  outer.use(logRequests(options.log));
  outer.use(app);
  return outer;
}
