import { status } from '@grpc/grpc-js';

/** An error that reaches the client as a gRPC status with a clear message. */
export class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export const notFound = (message: string) => new RpcError(status.NOT_FOUND, message);
export const invalidArgument = (message: string) => new RpcError(status.INVALID_ARGUMENT, message);
export const alreadyExists = (message: string) => new RpcError(status.ALREADY_EXISTS, message);
export const failedPrecondition = (message: string) => new RpcError(status.FAILED_PRECONDITION, message);

/** The workflow id is taken; the SDK reads the running run's id from the details. */
export class AlreadyStarted extends RpcError {
  constructor(message: string, readonly startRequestId: string | undefined, readonly runId: string) {
    super(status.ALREADY_EXISTS, message);
  }
}
