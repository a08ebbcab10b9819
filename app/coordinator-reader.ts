/**
 * The coordinator API's view of the workflows: Temporal queries on a family's
 * workflow (its latest run, across continue-as-new) and on its handoffs.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { FamilyReader } from '../server/coordinator/api';
import { familyWorkflowId, handoffQuery, handoffWorkflowId, pathwayQuery, timelineQuery } from '../workflows/messages';

async function orUndefined<T>(query: Promise<T>): Promise<T | undefined> {
  try {
    return await query;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  }
}

export function temporalFamilyReader(client: Client): FamilyReader {
  return {
    pathway: (familyId) => orUndefined(client.workflow.getHandle(familyWorkflowId(familyId)).query(pathwayQuery)),
    timeline: (familyId) => orUndefined(client.workflow.getHandle(familyWorkflowId(familyId)).query(timelineQuery)),
    handoff: (familyId, key) => orUndefined(client.workflow.getHandle(handoffWorkflowId(familyId, key)).query(handoffQuery)),
  };
}
