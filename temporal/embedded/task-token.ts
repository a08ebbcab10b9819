/**
 * Task tokens: opaque to workers, JSON to the server. Each names the
 * execution and a sequence number, so an answer for a task that timed out or
 * was handed out again is refused instead of applied twice.
 */
import { invalidArgument } from './errors';
import type { Msg } from './proto';

export function token(value: object): Buffer {
  return Buffer.from(JSON.stringify(value));
}

export function parseToken(buffer: Buffer | Uint8Array | undefined | null): Msg | undefined {
  if (!buffer || buffer.length === 0) throw invalidArgument('task token is not set on the request');
  try {
    const value = JSON.parse(Buffer.from(buffer).toString('utf8'));
    return value && typeof value === 'object' ? value : undefined;
  } catch {
    throw invalidArgument('task token is malformed');
  }
}
