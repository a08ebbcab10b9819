/**
 * `forlop pathway migrate`: moving running families from one version of a
 * definition to another, as an explicit, audited decision (DESIGN.md:
 * a family is pinned to its version; moving it is a migration). Families
 * are found by their CarePlans (instantiatesCanonical = the old url|version).
 * A dry run shows each family's diff (the workflow's own state, the pure
 * ./workflows/pathway-migration.ts); otherwise each family's workflow is
 * sent the adoptPlan update, which it validates and applies at a safe point
 * (between workflow tasks), and the store gets a Provenance (the CarePlan's
 * new version: who decided, why, from which definition) and an AuditEvent
 * per family. A family whose state cannot move stays with the reason.
 */
import type { Client } from '@temporalio/client';
import type { AuditEvent, CarePlan, Provenance } from '@medplum/fhirtypes';
import { carePlanId, FORLOP_SYSTEMS, stableId } from '../fhir/builders/pathway';
import type { FhirStore } from '../fhir/store';
import type { Plan } from '../pathways/plan';
import { adoptPlanUpdate, familyWorkflowId, pathwayStateQuery } from '../workflows/messages';
import { migrate, type MigrationDiff } from '../workflows/pathway-migration';

export interface MigrationRequest {
  from: Plan;
  to: Plan;
  /** Only these family ids (default: every family on `from`). */
  families?: string[];
  dryRun: boolean;
  /** Who decided (a person or role, recorded in the Provenance and AuditEvent). */
  decidedBy: string;
  reason: string;
  today: string;
}

export interface FamilyMigration {
  familyId: string;
  diff: MigrationDiff;
  /** moved; would-move (dry run); stays (with diff.blocked or the workflow's refusal). */
  outcome: 'moved' | 'would-move' | 'stays';
  reason?: string;
}

/** The family ids whose CarePlan says they run on `canonical`. */
export async function familiesOn(store: FhirStore, canonical: string): Promise<string[]> {
  const { resources } = await store.search('CarePlan', { 'instantiates-canonical': canonical, _count: '1000' });
  return (resources as CarePlan[]).map((p) => p.identifier?.find((i) => i.system === FORLOP_SYSTEMS.family)?.value).filter((id): id is string => id !== undefined);
}

export async function migrateFamilies(client: Client, store: FhirStore, request: MigrationRequest): Promise<FamilyMigration[]> {
  const { from, to } = request;
  const ids = request.families ?? (await familiesOn(store, from.canonical));
  const out: FamilyMigration[] = [];
  for (const familyId of ids) {
    const handle = client.workflow.getHandle(familyWorkflowId(familyId));
    const state = await handle.query(pathwayStateQuery);
    const { diff } = migrate(from, to, state, request.today);
    if (diff.blocked) {
      out.push({ familyId, diff, outcome: 'stays', reason: diff.blocked });
      continue;
    }
    if (request.dryRun) {
      out.push({ familyId, diff, outcome: 'would-move' });
      continue;
    }
    try {
      const applied = await handle.executeUpdate(adoptPlanUpdate, { args: [{ plan: to, decidedBy: request.decidedBy, reason: request.reason }] });
      await record(store, familyId, request, applied);
      out.push({ familyId, diff: applied, outcome: 'moved' });
    } catch (error) {
      // The workflow's validator refused: its state moved on since the query (a window opened).
      const cause = ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message;
      out.push({ familyId, diff, outcome: 'stays', reason: cause });
    }
  }
  return out;
}

/** A Provenance for the CarePlan's move and an AuditEvent of the decision, stored together. */
async function record(store: FhirStore, familyId: string, request: MigrationRequest, diff: MigrationDiff): Promise<void> {
  const carePlan = `CarePlan/${carePlanId(familyId)}`;
  const now = new Date().toISOString();
  const why = `${request.reason} (${diff.from} -> ${diff.to}: ${diff.added.length} steps added, ${diff.removed.length} removed, ${diff.redated.length} re-dated)`;
  const provenance: Provenance = {
    resourceType: 'Provenance',
    id: stableId(familyId, 'Provenance', 'migration', diff.to),
    target: [{ reference: carePlan }],
    recorded: now,
    reason: [{ text: why }],
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'UPDATE' }], text: 'pathway migration' },
    agent: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' }] }, who: { display: request.decidedBy } }],
    entity: [{ role: 'source', what: { display: diff.from } }],
  };
  const audit: AuditEvent = {
    resourceType: 'AuditEvent',
    type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110100', display: 'Application Activity' },
    subtype: [{ system: 'https://forlop.no/fhir/CodeSystem/audit-activity', code: 'pathway-migration', display: 'Pathway migration' }],
    action: 'U',
    recorded: now,
    outcome: '0',
    outcomeDesc: why,
    agent: [{ requestor: true, who: { display: request.decidedBy } }],
    source: { observer: { display: 'forlop pathway migrate' } },
    entity: [{ what: { reference: carePlan } }, { what: { reference: `Provenance/${provenance.id}` } }],
  };
  await store.transaction({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { resource: provenance, request: { method: 'PUT', url: `Provenance/${provenance.id}` } },
      { resource: audit, request: { method: 'POST', url: 'AuditEvent' } },
    ],
  });
}

/** One line per family, for the command's output. */
export function describeMigration(m: FamilyMigration): string {
  const d = m.diff;
  const parts = [
    d.added.length ? `added ${d.added.join(', ')}` : '',
    d.removed.length ? `removed ${d.removed.map((r) => `${r.key} (${r.status})`).join(', ')}` : '',
    d.redated.length ? `re-dated ${d.redated.map((r) => `${r.key} ${r.from ?? '?'} -> ${r.to ?? '?'}`).join(', ')}` : '',
    d.handoffsKept.length ? `handoffs kept ${d.handoffsKept.join(', ')}` : '',
  ].filter(Boolean);
  return `${m.outcome.padEnd(10)} family ${m.familyId}: ${m.outcome === 'stays' ? m.reason : parts.join('; ') || 'no change to the steps'}`;
}
