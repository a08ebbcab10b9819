/**
 * Organisation-level access in the store's own queries (issue #20), so a
 * search's matches, its total and its paging count only what the caller
 * may see. The rules are server/auth's participation rules, the same the
 * request's last check (server/fhir-access.ts) applies to every resource
 * that leaves the server; here they are kept as rows:
 *
 * - fhir.access_index holds, per current resource, the organisations that
 *   take part in it directly (kind 'org': its participation paths, as
 *   stored: "Organization/x" or "Organization?identifier=<orgnr system>|n")
 *   and the family members it is about (kind 'family': Patient references);
 * - fhir.audit_event.organisations holds an AuditEvent's organisations
 *   (agent.who, entity.what); its patients are its family members.
 *
 * A caller sees a resource when one of its organisations takes part in it,
 * or takes part in a membership resource (Patient, CarePlan, CareTeam,
 * EpisodeOfCare) of a family the resource is about.
 */
import type { Resource } from '@medplum/fhirtypes';
import { FAMILY_MEMBERSHIP_TYPES, familyMembers, participatingOrganisations } from '../../server/auth/organisation-access';
import { participationRule } from '../../server/auth/participation-rules';
import { AUDIT_EVENT } from './audit-events';
import { and, compare, type Condition, fixed, or, raw } from './sql';

/** Who is asking: the organisation references it acts for, in every form they may be stored in. */
export interface AccessScope {
  organisations: string[];
}

export function accessRows(resource: Resource): { organisations: string[]; family: string[] } {
  if (!participationRule(resource.resourceType) || participationRule(resource.resourceType)!.shared) return { organisations: [], family: [] };
  return { organisations: [...participatingOrganisations(resource as never)], family: [...new Set(familyMembers(resource as never))] };
}

/** The family members (Patient references) whose families one of the scope's organisations takes part in. */
function familiesOf(scope: AccessScope): Condition {
  return raw(
    (sql) => `SELECT f.target FROM fhir.access_index f JOIN fhir.access_index o ON o.resource_type = f.resource_type AND o.id = f.id
       WHERE f.kind = 'family' AND o.kind = 'org' AND o.target = ANY(${sql.param(scope.organisations, 'text[]')}) AND f.resource_type = ANY(${sql.param([...FAMILY_MEMBERSHIP_TYPES], 'text[]')})`,
  );
}

/** The condition on the searched row `r` that the scope may see it. */
export function accessCondition(resourceType: string, scope: AccessScope, alias = 'r'): Condition {
  const rule = participationRule(resourceType);
  if (!rule) return fixed('FALSE');
  if (rule.shared) return fixed('TRUE');
  if (resourceType === AUDIT_EVENT) {
    return or(compare(`${alias}.organisations`, '&&', scope.organisations, 'text[]'), raw((sql) => `${alias}.patients && ARRAY(${sql.render(familiesOf(scope))})`));
  }
  return raw(
    (sql) => `EXISTS (SELECT 1 FROM fhir.access_index a WHERE a.resource_type = ${alias}.resource_type AND a.id = ${alias}.id AND (${sql.render(
      or(and(fixed("a.kind = 'org'"), compare('a.target', '= ANY', scope.organisations, 'text[]')), and(fixed("a.kind = 'family'"), raw((s) => `a.target IN (${s.render(familiesOf(scope))})`))),
    )}))`,
  );
}
