/**
 * How the API advertises its security (issue #6: "The CapabilityStatement
 * advertises the security service"):
 * - CapabilityStatement.rest.security (FHIR R4 capabilitystatement, SMART App
 *   Launch 2.x "Conformance"): service SMART-on-FHIR, and the OAuth endpoints;
 * - /.well-known/smart-configuration (SMART App Launch 2.x 2.0.0 section
 *   "Metadata"): for backend services using client credentials.
 * https://hl7.org/fhir/smart-app-launch/conformance.html
 */
import { DPOP_ALGORITHMS } from './dpop';

export interface SecurityMetadataInput {
  issuer: string;
  tokenEndpoint: string;
  jwksUri: string;
  /** Scopes clients may ask for, for discovery (SMART v2 syntax). */
  scopesSupported?: string[];
  dpopRequired?: boolean;
}

export function capabilityStatementSecurity(input: SecurityMetadataInput) {
  return {
    extension: [
      {
        url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
        extension: [{ url: 'token', valueUri: input.tokenEndpoint }],
      },
    ],
    service: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' }],
        text: 'OAuth 2.0 client credentials (SMART Backend Services), private_key_jwt',
      },
    ],
    description:
      `Access tokens from ${input.issuer} (JWT, audience-restricted), ${input.dpopRequired ? 'DPoP-bound (RFC 9449) as required' : 'Bearer or DPoP-bound (RFC 9449)'}; ` +
      'SMART v2 scopes per resource type and interaction; access limited to the organisations taking part in a family or handoff; every call audited as an AuditEvent.',
  };
}

export function smartConfiguration(input: SecurityMetadataInput) {
  return {
    issuer: input.issuer,
    jwks_uri: input.jwksUri,
    token_endpoint: input.tokenEndpoint,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['RS256', 'RS384', 'ES256', 'ES384'],
    scopes_supported: input.scopesSupported ?? ['system/*.cruds', 'system/*.rs'],
    capabilities: ['client-confidential-asymmetric', 'permission-v2', 'permission-v1'],
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
  };
}
