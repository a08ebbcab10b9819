/**
 * The HTTP server's composition: the FHIR API and the coordinator API
 * behind the audit trail, authentication (bearer or DPoP tokens from the
 * configured issuer) and scope checks. Used by `forlop start` and by the end-to-end tests, so both
 * run the same stack.
 */
import type express from 'express';
import type { Client } from '@temporalio/client';
import type { FhirStore } from '../fhir/store';
import { createApp } from '../server/app';
import { auditTrail, groupCommit } from '../server/audit';
import { authenticate, capabilityStatementSecurity, resolveAuthenticateOptions, smartConfiguration, type SecurityMetadataInput } from '../server/auth';
import { writableThroughApi } from '../server/auth/participation-rules';
import { fhirScopes, readScope } from '../server/fhir-authorization';
import { organisationAccessChecks } from '../server/fhir-access';
import { coordinatorApi } from '../server/coordinator/api';
import { definitionWriteAccess } from '../server/definition-writes';
import { DefinitionRegistry } from '../pathways/registry';
import { temporalFamilyReader } from './coordinator-reader';
import type { AuthSettings } from './config';

export interface HttpStackOptions {
  store: FhirStore;
  publicUrl: string;
  /** undefined: authentication disabled (only with the explicit flag; see config). */
  auth?: Pick<AuthSettings, 'audience' | 'jwksUri' | 'tokenEndpoint' | 'requireDpop'> & { issuer: string; organisations: Record<string, string> };
  onAuditWriteError?: (error: unknown) => void;
  /** A Temporal client for the coordinator API's workflow queries; without it there is no /api. */
  temporal?: Client;
  /** Today in Oslo for the coordinator API's "days left"; default the clock (tests on a time-skipping server pass its day). */
  today?: () => string;
  /** The definitions known now, for the check of published PlanDefinitions; default the built-in ones. */
  definitions?: () => DefinitionRegistry;
}

let builtIn: DefinitionRegistry | undefined;
const builtInDefinitions = () => (builtIn ??= DefinitionRegistry.builtIn());

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
  const access = options.auth ? organisationAccessChecks(store, options.auth.organisations) : undefined;
  const visibility = access?.readFilter;
  return createApp({
    store,
    publicUrl: options.publicUrl,
    fhirMiddleware,
    authorize: options.auth ? [fhirScopes()] : [],
    visibility,
    // Definitions (PlanDefinition, ActivityDefinition) by the operator's grant and the pathway checks; everything else by organisation.
    writeAccess: definitionWriteAccess(options.definitions ?? builtInDefinitions, access?.writeCheck),
    searchScope: access?.searchScope,
    readScope: options.auth ? readScope : undefined,
    // With access checks on, the statement declares writes only for the types some client can be allowed to write.
    capability: options.auth ? { security: security && capabilityStatementSecurity(security), writable: writableThroughApi } : undefined,
    smartConfiguration: security && smartConfiguration(security),
    coordinatorApi: options.temporal ? coordinatorApi({ store, families: temporalFamilyReader(options.temporal), visibility, today: options.today }) : undefined,
  });
}
