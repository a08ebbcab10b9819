export { auditTrail, describeAudit, type AuditDetails, type AuditTrailOptions } from './audit-trail';
export { groupCommit, type GroupCommitOptions } from './group-commit';
export {
  auditAction,
  auditOutcome,
  buildAuditEvent,
  type AuditAction,
  type AuditActor,
  type AuditInput,
  type AuditOutcome,
  type CrossOrganisationAccess,
} from './audit-event';
export { classifyFhirRequest, type FhirRequestInfo, type RestInteraction } from './fhir-request';
export { LEGAL_BASIS, ORGNR_SYSTEM, HPR_SYSTEM, PURPOSE_COORDINATION, PURPOSE_TREATMENT } from './codes';
