/**
 * Structured logs (pino, JSON lines) that never carry personal data or
 * secrets: no national ids (fødselsnummer/D-nummer), names, tokens, client
 * secrets or FHIR resource bodies (issue #6; Normen, "Logging", and
 * GDPR art. 5(1)(c) data minimisation). Health data belongs in the FHIR
 * store and its AuditEvents, not in logs.
 *
 * Two layers, because a redaction list alone misses what a developer puts in
 * a message string:
 * 1. Keys: any property whose name is on the redaction list is replaced by
 *    "[redacted]", at any depth (pino's own `redact` only matches fixed paths).
 * 2. Values: every string (including the message and error stacks) is
 *    scrubbed of 11-digit numbers (fødselsnummer/D-nummer shape) and JWTs.
 * A name inside free text cannot be recognised by pattern: never put names
 * (or resource content) into message strings or error messages.
 */
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import pino, { type DestinationStream, type Logger } from 'pino';

export const REDACTED = '[redacted]';

/** Property names never logged, compared case-insensitively. */
export const REDACTED_KEYS: readonly string[] = [
  // credentials
  'authorization', 'dpop', 'cookie', 'set-cookie', 'access_token', 'refresh_token', 'id_token', 'token', 'accessToken',
  'client_secret', 'clientSecret', 'client_assertion', 'password', 'secret', 'privateKey', 'private_key', 'privateJwk', 'd',
  // persons
  'fnr', 'fodselsnummer', 'fødselsnummer', 'nationalId', 'national_id', 'pid', 'helseid://claims/identity/pid', 'ssn',
  'name', 'given', 'family', 'birthDate', 'address', 'telecom', 'email', 'phone',
  // FHIR content
  'body', 'resource', 'entry', 'payload', 'contained', 'text', 'note', 'identifier',
];

const redactedKeySet = new Set(REDACTED_KEYS.map((k) => k.toLowerCase()));
/** 11 digits not part of a longer number: fødselsnummer and D-nummer (Folkeregisteret). */
const NATIONAL_ID = /(?<!\d)\d{6}\s?\d{5}(?!\d)/g;
const JWT = /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;

export function scrubString(value: string): string {
  return value.replace(NATIONAL_ID, '[national-id]').replace(JWT, '[jwt]');
}

/** Returns a copy with redacted keys and scrubbed strings; cycles become "[circular]". */
export function scrub(value: unknown, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) {
    const error = value as Error & { type?: string; code?: unknown };
    return { type: error.name, message: scrubString(error.message), stack: error.stack ? scrubString(error.stack) : undefined, code: error.code };
  }
  if (Array.isArray(value)) return value.map((item) => scrub(item, seen));
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = redactedKeySet.has(key.toLowerCase()) ? REDACTED : scrub(item, seen);
  return out;
}

export interface LoggerOptions {
  /** pino level; default 'info'. */
  level?: string;
  /** Where lines go; default stdout. Tests pass a stream to read the lines. */
  destination?: DestinationStream | Writable;
  /** Fields on every line, e.g. { service: 'forlop-server' }. */
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Error objects under any key are scrubbed by `scrub`, not pino's err serializer.
      serializers: {},
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => scrub(object) as Record<string, unknown>,
      },
      hooks: {
        // Messages and interpolation arguments are scrubbed too.
        logMethod(args, method) {
          const cleaned = args.map((arg) => (typeof arg === 'string' ? scrubString(arg) : arg)) as Parameters<typeof method>;
          return method.apply(this, cleaned);
        },
      },
    },
    (options.destination ?? pino.destination(1)) as DestinationStream,
  );
}

/** A caller's X-Request-Id is kept when it is a plain token; otherwise the server makes one. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Express middleware logging one line per request at info: method, path
 * without query values (search parameters may hold identifiers; their names
 * are kept), status, duration, the request id (X-Request-Id, also sent back),
 * and the client and organisation when authenticated. Never a body or a header value.
 */
export function logRequests(logger: Logger): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    const given = req.get('x-request-id');
    const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    res.on('close', () => {
      const auth = req.forlop;
      const [path, query] = req.originalUrl.split('?');
      const params = query ? [...new Set([...new URLSearchParams(query).keys()])] : [];
      logger.info(
        {
          requestId,
          method: req.method,
          path,
          ...(params.length ? { queryParams: params.join(',') } : {}),
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          client: auth?.clientId,
          orgnr: auth?.organisation.orgnr,
          completed: res.writableFinished,
        },
        'request',
      );
    });
    next();
  };
}
