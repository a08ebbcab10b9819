/**
 * `forlop pathway import`: a PlanDefinition as `forlop pathway export`
 * writes it (alone, or first in its Bundle) back into a definition file.
 * The PlanDefinition's actions are the FHIR view of the plan; what they
 * cannot say exactly (instrument bands, handoff deadlines, escalation, exits)
 * travels with it as the whole definition in one extension, so the import
 * is exact and export -> import -> export is a fixed point. The
 * PlanDefinition's own url, version, name, title and status win over the
 * extension's copy (a publisher who sets status: retired retires it).
 */
import type { Bundle, PlanDefinition, Resource } from '@medplum/fhirtypes';
import { stringify } from 'yaml';
import type { PathwayDocument } from './schema';

export const DEFINITION_EXTENSION = 'https://forlop.no/fhir/StructureDefinition/pathway-definition';

/** A PlanDefinition that cannot be turned back into a definition, with the FHIR path of the fault. */
export class PlanDefinitionImportError extends Error {
  override readonly name = 'PlanDefinitionImportError';
  constructor(
    message: string,
    readonly expression: string,
  ) {
    super(message);
  }
}

export function planDefinitionOf(resource: Resource): PlanDefinition {
  if (resource.resourceType === 'PlanDefinition') return resource;
  const pd = resource.resourceType === 'Bundle' ? (resource as Bundle).entry?.find((e) => e.resource?.resourceType === 'PlanDefinition')?.resource : undefined;
  if (!pd) throw new PlanDefinitionImportError(`expected a PlanDefinition or a Bundle holding one, got ${resource.resourceType}`, resource.resourceType);
  return pd as PlanDefinition;
}

/** The definition document a PlanDefinition carries. */
export function importPlanDefinition(resource: Resource): PathwayDocument {
  const pd = planDefinitionOf(resource);
  const index = (pd.extension ?? []).findIndex((e) => e.url === DEFINITION_EXTENSION);
  const data = index >= 0 ? pd.extension![index].valueAttachment?.data : undefined;
  if (index < 0 || !data) {
    throw new PlanDefinitionImportError(
      `the PlanDefinition carries no Forløp definition (extension ${DEFINITION_EXTENSION} with valueAttachment.data); write it with forlop pathway export`,
      index < 0 ? 'PlanDefinition.extension' : `PlanDefinition.extension[${index}].valueAttachment.data`,
    );
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new PlanDefinitionImportError(`the definition in the extension is not base64 of JSON: ${(error as Error).message}`, `PlanDefinition.extension[${index}].valueAttachment.data`);
  }
  for (const key of ['url', 'version', 'name', 'title', 'status'] as const) if (pd[key] !== undefined) doc[key] = pd[key];
  return doc as PathwayDocument;
}

export function definitionAttachmentData(doc: PathwayDocument): string {
  return Buffer.from(JSON.stringify(doc), 'utf8').toString('base64');
}

export function toYaml(doc: PathwayDocument, header?: string): string {
  return `${header ? `${header.split('\n').map((l) => `# ${l}`).join('\n')}\n` : ''}${stringify(doc, { lineWidth: 0 })}`;
}
