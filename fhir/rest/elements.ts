/**
 * _elements (https://hl7.org/fhir/R4/search.html#elements): the matches
 * with only the named top-level elements, plus what every resource keeps
 * (resourceType, id, meta), tagged SUBSETTED (R4 v3-ObservationValue) so no
 * client stores one as the whole resource. Applied after the access checks,
 * which need the whole resource.
 */
import type { Resource } from '@medplum/fhirtypes';
import { badRequest, OperationOutcomeError } from '../outcome';

const KEPT = ['resourceType', 'id', 'meta'];
/** The R4 data types a choice element [x] can take (its JSON name is the stem and the type, datatypes.html#open). */
const CHOICE_TYPES = new Set(['Base64Binary', 'Boolean', 'Canonical', 'Code', 'Date', 'DateTime', 'Decimal', 'Id', 'Instant', 'Integer', 'Markdown', 'Oid', 'PositiveInt', 'String', 'Time', 'UnsignedInt', 'Uri', 'Url', 'Uuid', 'Address', 'Age', 'Annotation', 'Attachment', 'CodeableConcept', 'Coding', 'ContactPoint', 'Count', 'Distance', 'Duration', 'HumanName', 'Identifier', 'Money', 'Period', 'Quantity', 'Range', 'Ratio', 'Reference', 'SampledData', 'Signature', 'Timing', 'ContactDetail', 'Contributor', 'DataRequirement', 'Expression', 'ParameterDefinition', 'RelatedArtifact', 'TriggerDefinition', 'UsageContext', 'Dosage', 'Meta']);
const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

/** The element names of an _elements parameter, or undefined when there is none. */
export function elementsOf(query: Record<string, string | string[]>): string[] | undefined {
  const raw = query._elements;
  if (raw === undefined) return undefined;
  const names = ([] as string[]).concat(raw).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  const bad = names.find((n) => !/^[a-z][A-Za-z0-9]*(\[x\])?$/.test(n));
  if (bad !== undefined) throw new OperationOutcomeError(badRequest(`_elements takes top-level element names (e.g. status,subject), not '${bad}'`, '_elements'), 400);
  return names;
}

export function subset<T extends Resource>(resource: T, elements: string[]): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource)) {
    // A choice element is named by its stem (value[x], or value) and stored with its type (valueQuantity).
    const stem = (e: string) => e.replace(/\[x\]$/, '');
    if (KEPT.includes(key) || elements.some((e) => key === e || (key.startsWith(stem(e)) && CHOICE_TYPES.has(key.slice(stem(e).length))))) out[key] = value;
  }
  const meta = resource.meta ?? {};
  out.meta = { ...meta, tag: [...(meta.tag ?? []), SUBSETTED] };
  return out as T;
}
