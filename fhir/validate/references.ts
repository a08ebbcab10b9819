/**
 * Reference target types (https://hl7.org/fhir/R4/references.html): a
 * literal reference `Type/id` must name one of the types the element's
 * StructureDefinition allows (targetProfile). @medplum/core's validator does
 * not check this, and handing a Task to a Patient is exactly the kind of
 * fault a receiving system must not accept.
 */
import { getDataType, type InternalTypeSchema } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { issue } from '../outcome';

function schemaOf(code: string): InternalTypeSchema | undefined {
  try {
    return getDataType(code);
  } catch {
    return undefined;
  }
}

function walk(value: unknown, schema: InternalTypeSchema, path: string, issues: OperationOutcomeIssue[]): void {
  if (!value || typeof value !== 'object') return;
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const element = schema.elements[key];
    if (!element || key === 'contained' || key === 'extension' || key === 'modifierExtension') continue;
    const items = Array.isArray(child) ? child : [child];
    items.forEach((item, i) => {
      const itemPath = `${path}.${key}${Array.isArray(child) ? `[${i}]` : ''}`;
      const types = element.type ?? [];
      const reference = types.find((t) => t.code === 'Reference');
      if (reference && item && typeof item === 'object' && typeof (item as { reference?: unknown }).reference === 'string') {
        const targets = (reference.targetProfile ?? []).map((p) => p.split('/').pop()!);
        const literal = (item as { reference: string }).reference;
        const match = /^([A-Z][A-Za-z]+)\/[^/]+/.exec(literal.replace(/^https?:\/\/[^]*?\/(?=[A-Z][A-Za-z]+\/)/, ''));
        if (match && targets.length > 0 && !targets.includes('Resource') && !targets.includes(match[1])) {
          issues.push(issue('structure', `Invalid reference for ${element.path}: ${match[1]} is not one of ${targets.join(', ')}`, itemPath));
        }
        return;
      }
      if (types.length === 1 && !['Reference', 'Resource'].includes(types[0].code)) {
        const inner = schemaOf(types[0].code);
        if (inner && Object.keys(inner.elements).length > 0) walk(item, inner, itemPath, issues);
      }
    });
  }
}

export function referenceIssues(resource: { resourceType: string }): OperationOutcomeIssue[] {
  const schema = schemaOf(resource.resourceType);
  if (!schema) return [];
  const issues: OperationOutcomeIssue[] = [];
  walk(resource, schema, resource.resourceType, issues);
  return issues;
}
