/**
 * Validation of every resource Forløp writes: the FHIR R4 JSON schema, the
 * StructureDefinitions (via @medplum/core), and Norwegian identifier checks.
 * All issues are gathered into one OperationOutcome.
 */
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { issue, OperationOutcomeError, unprocessable } from '../outcome';
import { dateIssues } from './dates';
import { MAX_DEPTH, tooDeep } from './depth';
import { schemaIssues } from './json-schema';
import { norwegianIssues } from './norwegian';
import { referenceIssues } from './references';
import { structureIssues } from './structure';

export { isKnownResourceType, toFhirPath } from './json-schema';
export { MAX_DEPTH, tooDeep } from './depth';

/** Every issue with a resource; empty when it is valid. */
export function validationIssues(resource: unknown): OperationOutcomeIssue[] {
  if (!resource || typeof resource !== 'object' || Array.isArray(resource)) return [issue('structure', 'A resource must be a JSON object')];
  const r = resource as Resource;
  if (typeof r.resourceType !== 'string') return [issue('required', 'Missing resourceType', 'resourceType')];
  // Before anything recursive walks it.
  const deep = tooDeep(r, r.resourceType);
  if (deep) return [issue('too-costly', `The resource nests more than ${MAX_DEPTH} levels deep (see the expression); FHIR content is not nested that deep`, deep)];
  const fromSchema = schemaIssues(r);
  if (fromSchema.some((i) => i.details?.text?.startsWith('Unknown resource type'))) return fromSchema;
  const issues = [...fromSchema];
  const known = new Set(issues.map((i) => `${i.expression?.[0]}|${i.details?.text}`));
  for (const i of [...structureIssues(r), ...referenceIssues(r), ...norwegianIssues(r), ...dateIssues(r)]) {
    const key = `${i.expression?.[0]}|${i.details?.text}`;
    if (!known.has(key)) {
      known.add(key);
      issues.push(i);
    }
  }
  return issues;
}

/** Throws one OperationOutcomeError (422) listing every issue when the resource is not valid. */
export function assertValidResource(resource: unknown): asserts resource is Resource {
  const issues = validationIssues(resource);
  if (issues.length > 0) throw new OperationOutcomeError(unprocessable(issues), 422);
}
