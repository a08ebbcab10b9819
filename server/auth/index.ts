export { authenticate, checkScope, requireScope, sendAuthError, type AuthenticateOptions } from './authenticate';
export { createAccessTokenVerifier, DEFAULT_ALGORITHMS, InvalidTokenError, type AccessTokenOptions, type VerifiedAccessToken } from './access-token';
export { accessTokenHash, DPOP_ALGORITHMS, InvalidDpopProofError, normaliseHtu, verifyDpopProof } from './dpop';
export { AuthError, formatChallenge, type OperationOutcomeJson } from './errors';
export { createReplayCache, type ReplayCache } from './replay-cache';
export { allows, interactionPermissions, parseScope, parseScopes, requiredScope, type Interaction, type SmartScope } from './scopes';
export {
  buildAuthContext,
  DEFAULT_CLAIM_NAMES,
  HELSEID_CLAIMS,
  type ClaimNames,
  type ForlopAuthContext,
  type OrganisationContext,
  type Role,
  type UserContext,
} from './context';
export { PARTICIPATION_RULES, participationRule, type ParticipationRule } from './participation-rules';
export {
  familyMembers,
  moveProblem,
  newPatientLinks,
  familyParticipants,
  filterAccessible,
  FAMILY_MEMBERSHIP_TYPES,
  organisationAccess,
  organisationWriteAccess,
  otherOrganisations,
  participatingOrganisations,
  type AccessBasis,
  type AccessContext,
  type AccessDecision,
} from './organisation-access';
export { discoverJwksUri } from './discovery';
export { capabilityStatementSecurity, smartConfiguration, type SecurityMetadataInput } from './smart-configuration';
export { resolveAuthenticateOptions, type AuthSettingsLike } from './options';
