/**
 * Why a change could not be delivered, and whether trying again can help.
 *  - Transient: Temporal unreachable or slow (gRPC UNAVAILABLE, DEADLINE_EXCEEDED, a connection
 *    refused), the store busy: the router retries the change with backoff, and the family's later
 *    changes wait behind it (their order matters), while other families go on.
 *  - Permanent: the change can never be delivered as it stands (PermanentEventError, or Temporal
 *    refusing the request as invalid): the router records it as a failed event, tells the family's
 *    coordinator, and moves on.
 * An error of neither kind is retried like a transient one, up to GIVE_UP_AFTER attempts of the
 * same change, and then recorded as failed (cause `gave-up`) rather than retried for ever.
 */
import { isGrpcServiceError } from '@temporalio/client';
import type { FailureCause } from './failed-events';

export const GIVE_UP_AFTER = 8;

/** A change that can never be delivered as it stands; `cause` says which kind of fault. */
export class PermanentEventError extends Error {
  override readonly name = 'PermanentEventError';
  constructor(
    readonly failureCause: FailureCause,
    message: string,
  ) {
    super(message);
  }
}

/** gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
const INVALID_ARGUMENT = 3;

export type Classified = { kind: 'permanent'; cause: FailureCause; message: string } | { kind: 'transient'; known: boolean; message: string };

export function classify(error: unknown): Classified {
  if (error instanceof PermanentEventError) return { kind: 'permanent', cause: error.failureCause, message: error.message };
  const grpc = grpcCause(error);
  if (grpc?.code === INVALID_ARGUMENT) return { kind: 'permanent', cause: 'refused', message: `Temporal refused the event as invalid: ${grpc.details ?? grpc.message}` };
  // Any other gRPC status (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED...) is the server's state, not the change's.
  const message = error instanceof Error ? error.message : String(error);
  return { kind: 'transient', known: grpc !== undefined || isConnectionError(error), message };
}

function grpcCause(error: unknown): { code: number; details?: string; message: string } | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (isGrpcServiceError(e)) return e as never;
  }
  return undefined;
}

function isConnectionError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)$/.test(code)) return true;
  }
  return false;
}
