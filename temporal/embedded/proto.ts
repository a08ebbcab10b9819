/**
 * The Temporal API's protobuf types, as shipped in @temporalio/proto, and the
 * glue that turns them into grpc-js service definitions. Messages are handled
 * as plain objects (camelCase fields, int64 as numbers, bytes as Buffers).
 * Note google.protobuf.Any keeps its snake_case `type_url` field name.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Root, Type } from 'protobufjs';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const root: Root = require('@temporalio/proto/protos/json-module');
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const { temporal } = require('@temporalio/proto') as typeof import('@temporalio/proto');

export const enums = temporal.api.enums.v1;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Msg = Record<string, any>;

const typeCache = new Map<string, Type>();
export function messageType(name: string): Type {
  let type = typeCache.get(name);
  if (!type) {
    type = root.lookupType(name);
    typeCache.set(name, type);
  }
  return type;
}

const toObjectOptions = { longs: Number, enums: Number, defaults: false } as const;

/** Decodes to a message instance (fields by name; int64 as Long, read with Number()). */
export function decode(typeName: string, buffer: Buffer): Msg {
  return messageType(typeName).decode(buffer) as unknown as Msg;
}

/** Decodes to a plain object with int64 as numbers, for values kept and compared. */
export function decodePlain(typeName: string, buffer: Buffer): Msg {
  const type = messageType(typeName);
  return type.toObject(type.decode(buffer), toObjectOptions);
}

/**
 * Encodes a plain object directly (protobufjs accepts plain objects whose
 * fields already have wire-compatible values: numbers for int64 and enums,
 * Buffers for bytes). Skipping fromObject halves the server's encoding cost.
 */
export function encode(typeName: string, value: Msg): Buffer {
  const type = messageType(typeName);
  return Buffer.from(type.encode(value).finish());
}

/** Packs a message into a google.protobuf.Any. */
export function packAny(typeName: string, value: Msg): Msg {
  return { type_url: `type.googleapis.com/${typeName}`, value: encode(typeName, value) };
}

export function unpackAny(any: Msg | undefined): { typeName: string; value: Msg } | undefined {
  if (!any?.type_url) return undefined;
  const typeName = String(any.type_url).replace(/^.*\//, '');
  return { typeName, value: decodePlain(typeName, Buffer.from(any.value ?? [])) };
}

export const MALFORMED = '__forlopMalformedRequest';

export type UnaryHandler = (request: Msg, call: grpc.ServerUnaryCall<Msg, Msg>) => Promise<Msg>;

/**
 * A grpc-js service definition covering every method of a Temporal service.
 * Methods without a handler answer UNIMPLEMENTED with "unknown method", the
 * text the SDK core looks for.
 */
export function serviceDefinition(serviceName: string): { definition: grpc.ServiceDefinition; methods: { name: string; requestType: string; responseType: string }[] } {
  const service = root.lookupService(serviceName);
  service.resolveAll();
  const definition: Record<string, grpc.MethodDefinition<Msg, Msg>> = {};
  const methods = [];
  for (const method of Object.values(service.methods)) {
    const requestType = method.resolvedRequestType!.fullName.replace(/^\./, '');
    const responseType = method.resolvedResponseType!.fullName.replace(/^\./, '');
    methods.push({ name: method.name, requestType, responseType });
    definition[method.name] = {
      path: `/${serviceName}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (value: Msg) => encode(requestType, value),
      // A body that does not decode becomes a marker the handler answers with INVALID_ARGUMENT
      // (grpc-js would otherwise answer INTERNAL).
      requestDeserialize: (buffer: Buffer) => {
        try {
          return decode(requestType, buffer);
        } catch (error) {
          return { [MALFORMED]: `malformed ${method.name} request: ${error instanceof Error ? error.message : String(error)}` };
        }
      },
      responseSerialize: (value: Msg) => encode(responseType, value),
      responseDeserialize: (buffer: Buffer) => decode(responseType, buffer),
    };
  }
  return { definition, methods };
}

export function timestamp(ms: number): Msg {
  return { seconds: Math.floor(ms / 1000), nanos: Math.round((ms % 1000) * 1e6) };
}

export function fromTimestamp(ts: Msg | undefined | null): number | undefined {
  if (!ts) return undefined;
  return Number(ts.seconds ?? 0) * 1000 + Math.floor(Number(ts.nanos ?? 0) / 1e6);
}

/** A google.protobuf.Duration as milliseconds; 0 when unset. */
export function durationMs(d: Msg | undefined | null): number {
  if (!d) return 0;
  return Number(d.seconds ?? 0) * 1000 + Math.floor(Number(d.nanos ?? 0) / 1e6);
}

export function duration(ms: number): Msg {
  return { seconds: Math.floor(ms / 1000), nanos: Math.round((ms % 1000) * 1e6) };
}

const HISTORY_EVENT = 'temporal.api.history.v1.HistoryEvent';

/** History events as one byte string (each event: 4-byte length, then its protobuf), the way durable storage keeps them. */
export function encodeEvents(events: Msg[]): Buffer {
  const type = messageType(HISTORY_EVENT);
  const parts: Buffer[] = [];
  for (const event of events) {
    const body = type.encode(event).finish();
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(body.length);
    parts.push(length, Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  }
  return Buffer.concat(parts);
}

export function decodeEvents(bytes: Uint8Array): Msg[] {
  const type = messageType(HISTORY_EVENT);
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const events: Msg[] = [];
  for (let at = 0; at < buffer.length; ) {
    const length = buffer.readUInt32BE(at);
    events.push(type.toObject(type.decode(buffer.subarray(at + 4, at + 4 + length)), toObjectOptions));
    at += 4 + length;
  }
  return events;
}
