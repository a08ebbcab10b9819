/**
 * FHIR's Task state machine (https://hl7.org/fhir/R4/task.html#statemachine):
 * requested -> received -> accepted | rejected -> in-progress -> completed,
 * with cancelled, on-hold and failed where the diagram has them. The store
 * refuses updates that move a Task any other way, and the handoff workflow
 * follows the same table. Pure: no I/O, safe in workflow code.
 */
export type TaskStatus = 'draft' | 'requested' | 'received' | 'accepted' | 'rejected' | 'ready' | 'cancelled' | 'in-progress' | 'on-hold' | 'failed' | 'completed' | 'entered-in-error';

const MOVES: Record<TaskStatus, TaskStatus[]> = {
  draft: ['requested', 'ready', 'cancelled', 'entered-in-error'],
  requested: ['received', 'accepted', 'rejected', 'cancelled', 'on-hold', 'failed', 'ready'],
  received: ['accepted', 'rejected', 'cancelled', 'on-hold', 'failed'],
  accepted: ['in-progress', 'completed', 'cancelled', 'on-hold', 'failed', 'ready'],
  ready: ['in-progress', 'cancelled', 'on-hold', 'failed'],
  'in-progress': ['completed', 'on-hold', 'failed', 'cancelled'],
  'on-hold': ['in-progress', 'accepted', 'ready', 'cancelled', 'failed'],
  rejected: [],
  completed: [],
  cancelled: [],
  failed: [],
  'entered-in-error': [],
};

/** Moves allowed from `from`; a Task recorded in error can always be marked so. */
export function taskMovesFrom(from: TaskStatus): TaskStatus[] {
  return MOVES[from] ?? [];
}

export function canMoveTask(from: TaskStatus, to: TaskStatus): boolean {
  return from === to || to === 'entered-in-error' || taskMovesFrom(from).includes(to);
}

/** Why a move is refused, in words an integrator can act on; undefined when it is allowed. */
export function taskMoveProblem(from: TaskStatus, to: TaskStatus): string | undefined {
  if (canMoveTask(from, to)) return undefined;
  const next = taskMovesFrom(from);
  return `A Task cannot go from ${from} to ${to}; allowed next: ${next.length ? next.join(', ') : 'none (the Task is finished)'}`;
}
