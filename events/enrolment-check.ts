/**
 * What makes an enrolling EpisodeOfCare deliverable: a pathway code that names
 * a known definition, and a due date or a birth date to anchor the plan
 * (workflows/pathway-state.ts startPathway needs one). Checked twice: at write
 * time, so a system writing a bad enrolment gets 422 with the field and the
 * valid codes instead of 201 and a silent failure later (app/http.ts), and in
 * the event router for writes that bypass the API (stored directly, or before
 * this check existed), which records them as failed events.
 */
import type { EpisodeOfCare, Resource } from '@medplum/fhirtypes';
import { issue, OperationOutcomeError, unprocessable } from '../fhir/outcome';
import type { Plan } from '../pathways/plan';
import { BIRTH_DATE_EXTENSION, DUE_DATE_EXTENSION, PATHWAY_TYPE_SYSTEM } from './map-resource';
import type { FailureCause } from './failed-events';

export interface EnrolmentProblem {
  cause: Extract<FailureCause, 'unknown-definition' | 'missing-anchor'>;
  message: string;
  /** FHIRPath of the fault, for the OperationOutcome. */
  expression: string;
}

export interface DefinitionCatalogue {
  plan(canonicalOrName: string): Plan;
  canonicals(): string[];
}

const namesByCatalogue = new WeakMap<DefinitionCatalogue, { count: number; names: string[] }>();

/** The definitions' names (what EpisodeOfCare.type carries, e.g. Basisprogram), again when definitions are published. */
export function definitionNames(catalogue: DefinitionCatalogue): string[] {
  const canonicals = catalogue.canonicals();
  let cached = namesByCatalogue.get(catalogue);
  if (!cached || cached.count !== canonicals.length) namesByCatalogue.set(catalogue, (cached = { count: canonicals.length, names: [...new Set(canonicals.map((c) => catalogue.plan(c).name))].sort() }));
  return cached.names;
}

/** True when this EpisodeOfCare enrols (or keeps enrolled) a family: active and coded as a Forløp pathway. */
export function isEnrolment(e: EpisodeOfCare): boolean {
  return e.status === 'active' && (e.type ?? []).some((t) => t.coding?.some((c) => c.system === PATHWAY_TYPE_SYSTEM));
}

export function enrolmentProblems(e: EpisodeOfCare, catalogue: DefinitionCatalogue): EnrolmentProblem[] {
  if (!isEnrolment(e)) return [];
  const problems: EnrolmentProblem[] = [];
  const names = definitionNames(catalogue);
  const known = new Set([...names, ...catalogue.canonicals()]);
  (e.type ?? []).forEach((type, t) =>
    (type.coding ?? []).forEach((coding, c) => {
      if (coding.system !== PATHWAY_TYPE_SYSTEM || (coding.code && known.has(coding.code))) return;
      problems.push({
        cause: 'unknown-definition',
        message: `EpisodeOfCare.type has pathway code '${coding.code ?? ''}', which is not a known pathway definition; use one of ${names.join(', ')} (system ${PATHWAY_TYPE_SYSTEM}).`,
        expression: `EpisodeOfCare.type[${t}].coding[${c}].code`,
      });
    }),
  );
  const anchored = (e.extension ?? []).some((x) => (x.url === DUE_DATE_EXTENSION || x.url === BIRTH_DATE_EXTENSION) && typeof x.valueDate === 'string');
  if (!anchored) {
    problems.push({
      cause: 'missing-anchor',
      message: `An enrolling EpisodeOfCare needs the expected due date (extension ${DUE_DATE_EXTENSION}, valueDate) or the child's birth date (extension ${BIRTH_DATE_EXTENSION}, valueDate); it has neither.`,
      expression: 'EpisodeOfCare.extension',
    });
  }
  return problems;
}

/**
 * The write-time form, composed into the API's per-request write check (app/http.ts), so creates,
 * updates, patches and every entry of a transaction alike answer 422 with an OperationOutcome
 * naming the field (and the valid codes) instead of 201 and a failure in the router later.
 */
export function enrolmentWriteCheck(catalogue: DefinitionCatalogue): (change: { before?: Resource; after?: Resource }) => void {
  return ({ after }) => {
    if (after?.resourceType !== 'EpisodeOfCare') return;
    const problems = enrolmentProblems(after as EpisodeOfCare, catalogue);
    if (problems.length === 0) return;
    throw new OperationOutcomeError(unprocessable(problems.map((p) => issue(p.cause === 'unknown-definition' ? 'code-invalid' : 'required', p.message, p.expression))), 422);
  };
}
