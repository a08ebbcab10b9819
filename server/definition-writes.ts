/**
 * Publishing pathway definitions over FHIR: a PlanDefinition (with its
 * ActivityDefinitions, as `forlop pathway export` writes them) is written
 * only by a client the operator granted a scope naming the type
 * (system/PlanDefinition.cu, not a wildcard: municipal systems with
 * system/*.cruds do not publish care pathways), and a PlanDefinition passes
 * the same schema and semantic checks as `forlop pathway validate` before it
 * is stored; a refused one gets 422 with each fault and its place. A
 * published url|version never changes: a change is a new version.
 * Composed into the per-request write check (server/app.ts `writeAccess`).
 */
import type { Request } from 'express';
import type { PlanDefinition, Resource } from '@medplum/fhirtypes';
import { flatten } from '../pathways/flatten';
import { canonicalOf } from '../pathways/merge';
import { DEFINITION_EXTENSION, importPlanDefinition, PlanDefinitionImportError } from '../pathways/import-plan-definition';
import { DefinitionError, formatProblem } from '../pathways/problems';
import type { DefinitionRegistry } from '../pathways/registry';
import { parseSourceText } from '../pathways/source-file';
import { forbidden, issue, OperationOutcomeError, unprocessable } from '../fhir/outcome';

export const DEFINITION_TYPES = ['PlanDefinition', 'ActivityDefinition'];

export type Change = { before?: Resource; after?: Resource };

export const isDefinitionChange = (change: Change) => DEFINITION_TYPES.includes((change.after ?? change.before)?.resourceType ?? '');

/** The place in the PlanDefinition of a problem in the definition it carries. */
const expressionOf = (pd: PlanDefinition, pointer: string) => {
  const index = (pd.extension ?? []).findIndex((e) => e.url === DEFINITION_EXTENSION);
  return `PlanDefinition.extension[${index}].valueAttachment.data${pointer ? `#${pointer}` : ''}`;
};

/** The semantic check of a PlanDefinition: the definition it carries, checked and compiled (throws 422). */
export function checkPlanDefinition(pd: PlanDefinition, known: () => DefinitionRegistry): void {
  let text: string;
  try {
    text = JSON.stringify(importPlanDefinition(pd), null, 1);
  } catch (error) {
    if (!(error instanceof PlanDefinitionImportError)) throw error;
    throw new OperationOutcomeError(unprocessable([issue('invalid', error.message, error.expression)]), 422);
  }
  const label = `PlanDefinition/${pd.id ?? '(new)'}`;
  let canonical: string;
  try {
    const source = parseSourceText(text, label);
    canonical = canonicalOf(source.document);
    const registry = known();
    const published = registry.sourceOf(canonical);
    // The same content again (a retried PUT) is fine; other content under a published url|version is not.
    if (published && JSON.stringify(flatten(registry.resolve(published).merged)) !== JSON.stringify(flatten(registry.copy().resolve(source).merged))) {
      throw new DefinitionError([source.problem(['version'], `${canonical} is already published with other content`, 'publish a change as a new version')]);
    }
    registry.copy().add(source).resolve(source);
  } catch (error) {
    if (!(error instanceof DefinitionError)) throw error;
    throw new OperationOutcomeError(
      unprocessable(error.problems.map((p) => issue('invalid', formatProblem({ ...p, file: label, line: undefined }), expressionOf(pd, p.path)))),
      422,
    );
  }
}

/** Whether the caller was granted writing this definition type by name (the operator's grant), not through a wildcard. */
function operatorMayWrite(req: Request, resourceType: string, deleting: boolean): boolean {
  const auth = req.forlop;
  if (!auth) return true; // authentication disabled (explicit flag): nothing to check against
  const needed = deleting ? 'd' : req.method === 'POST' ? 'c' : 'u';
  return auth.scopes.some((s) => s.context === 'system' && s.resourceType === resourceType && (s.permissions as Set<string>).has(needed));
}

/**
 * The write check of definition resources; `next` checks every other change
 * (organisation access). `known` gives the definitions known now (built-in,
 * the deployment's directory, those published before).
 */
export function definitionWriteAccess(known: () => DefinitionRegistry, next?: (req: Request, res?: import('express').Response) => ((change: Change) => Promise<void>) | undefined) {
  return (req: Request, res?: import('express').Response) => {
    const others = next?.(req, res);
    return async (change: Change): Promise<void> => {
      if (!isDefinitionChange(change)) return others?.(change);
      const type = (change.after ?? change.before)!.resourceType;
      if (!operatorMayWrite(req, type, !change.after)) {
        throw new OperationOutcomeError(forbidden(`${type} resources are pathway definitions, published by the operator: the client needs a scope naming ${type} (e.g. system/${type}.cu), not a wildcard`), 403);
      }
      if (change.after?.resourceType === 'PlanDefinition') checkPlanDefinition(change.after, known);
    };
  };
}
