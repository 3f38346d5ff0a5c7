// The control schema (control.proto, loaded by reflection with protobufjs
// from next to this module; the build copies it into dist/), the types of
// its messages (control-types.ts, generated from the .proto), and the
// stream framing: varint length-delimited messages.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { Request, RequestBody, Response, ResponseBody } from './control-types.js';

export const CONTROL_SCHEMA_VERSION = 1;

const root = protobuf.loadSync(fileURLToPath(new URL('control.proto', import.meta.url)));
const RequestType = root.lookupType('apple_gfxd.control.v1.Request');
const ResponseType = root.lookupType('apple_gfxd.control.v1.Response');

/** What each request is answered with (besides an error). */
export const REPLY_TO = {
  status: 'status',
  displayAdd: 'display',
  displayRemove: 'ok',
  displayModes: 'display',
  screenshot: 'screenshot',
  reset: 'ok',
  logLevel: 'logLevel',
  save: 'saved',
  restore: 'ok',
} as const satisfies { [K in keyof RequestBody]: keyof ResponseBody };

export type RequestKind = keyof RequestBody;
/** The response body a request of this kind gets. */
export type ReplyTo<K extends RequestKind> = ResponseBody[(typeof REPLY_TO)[K]];

/** What an encoder takes: any field may be left out (proto3 defaults). */
export type Init<T> = T extends Buffer
  ? Buffer
  : T extends (infer U)[]
    ? Init<U>[]
    : T extends object
      ? { [K in keyof T]?: Init<T[K]> | null }
      : T;

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, bytes: Buffer, defaults: true, oneofs: true, arrays: true };

export const decodeRequest = (bytes: Uint8Array): Request => RequestType.toObject(RequestType.decode(bytes), TO_OBJECT) as Request;
export const decodeResponse = (bytes: Uint8Array): Response => ResponseType.toObject(ResponseType.decode(bytes), TO_OBJECT) as Response;
export const encodeRequest = (r: Init<Request>): Buffer => delimited(RequestType, r);
export const encodeResponse = (r: Init<Response>): Buffer => delimited(ResponseType, r);

/** One item of a delimited stream: a whole message, or the length of one over the limit (its bytes are skipped). */
export type Delimited = { message: Buffer } | { tooLarge: number };

/**
 * Splits a stream into varint-length-delimited messages, in time linear in
 * the bytes: each byte is copied once, as it arrives (a message that lies in
 * one chunk is not copied at all), so a big message costs no quadratic
 * copying and no one long copy at the end. A message over `maxMessage` comes
 * out as `{tooLarge}` and its bytes are skipped as they arrive, so the stream
 * stays in step and the sender can be told (a typed error, not a dropped
 * connection). Throws only when framing is lost (a prefix over 5 bytes).
 */
export class DelimitedReader {
  /** Bytes after the last whole message (at most a prefix and part of a message that fits one chunk). */
  private rest: Buffer = Buffer.alloc(0);
  /** The message being filled in as its bytes come. */
  private filling: { buf: Buffer; at: number } | null = null;
  /** Bytes of a refused message still to skip. */
  private skipping = 0;
  constructor(private readonly maxMessage: number) {}

  /** Bytes held for a message not complete yet. */
  get buffered(): number {
    return this.rest.length + (this.filling?.at ?? 0);
  }

  push(chunk: Buffer): Delimited[] {
    const out: Delimited[] = [];
    let c = chunk;
    for (;;) {
      if (this.skipping) {
        const n = Math.min(this.skipping, c.length);
        this.skipping -= n;
        c = c.subarray(n);
        if (this.skipping) return out;
      }
      if (this.filling) {
        const f = this.filling;
        const n = Math.min(f.buf.length - f.at, c.length);
        c.copy(f.buf, f.at, 0, n);
        f.at += n;
        c = c.subarray(n);
        if (f.at < f.buf.length) return out;
        this.filling = null;
        out.push({ message: f.buf });
      }
      if (c.length === 0) return out;
      // Only a short tail (a prefix split across chunks) is ever joined.
      const b = this.rest.length ? Buffer.concat([this.rest, c]) : c;
      this.rest = Buffer.alloc(0);
      const prefix = readPrefix(b);
      if (!prefix) {
        this.rest = b;
        return out;
      }
      const [len, p] = prefix;
      if (len > this.maxMessage) {
        this.skipping = len;
        out.push({ tooLarge: len });
        c = b.subarray(p);
        continue;
      }
      if (b.length >= p + len) {
        out.push({ message: b.subarray(p, p + len) });
        c = b.subarray(p + len);
        continue;
      }
      // Spans chunks: allocated once, filled as the bytes come.
      this.filling = { buf: Buffer.allocUnsafe(len), at: 0 };
      c = b.subarray(p);
    }
  }
}

/** [length, bytes of the prefix] when a whole varint prefix starts `b`, else null. */
function readPrefix(b: Buffer): [number, number] | null {
  let len = 0;
  for (let i = 0; i < b.length; i++) {
    if (i === 5) throw new Error('length prefix longer than 5 bytes');
    len += (b[i]! & 0x7f) * 2 ** (7 * i);
    if (!(b[i]! & 0x80)) return [len, i + 1];
  }
  if (b.length >= 5) throw new Error('length prefix longer than 5 bytes');
  return null;
}

function delimited(t: protobuf.Type, obj: object): Buffer {
  const msg = t.fromObject(obj as Record<string, unknown>); // converts enum names, numbers and nested objects
  const err = t.verify(msg);
  if (err) throw new Error(`invalid ${t.name}: ${err}`);
  return Buffer.from(t.encodeDelimited(msg).finish());
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Buffer.from(out);
}

/**
 * Length-delimited `obj` of type `t` plus `{[body]: {[field]: data}}` (a
 * message whose one big `bytes` field is a saved state), as parts for one
 * write: `data` is not copied. protobufjs would copy it twice into fresh
 * memory, ~0.35 s per 100 MB each on the JS thread here. The body goes after
 * the other fields, which protobuf allows; field numbers come from the schema.
 */
function delimitedWithBytes(t: protobuf.Type, obj: Record<string, unknown>, body: string, field: string, data: Buffer): Buffer[] {
  const head = Buffer.from(t.encode(t.fromObject(obj)).finish());
  const bodyField = t.fields[body]!.resolve();
  const inner = (bodyField.resolvedType as protobuf.Type).fields[field]!;
  const innerHead = Buffer.concat([varint((inner.id << 3) | 2), varint(data.length)]);
  const bodyHead = Buffer.concat([varint((bodyField.id << 3) | 2), varint(innerHead.length + data.length)]);
  return [varint(head.length + bodyHead.length + innerHead.length + data.length), head, bodyHead, innerHead, data];
}

/** A restore request as parts for one write, the state not copied (see delimitedWithBytes). */
export const encodeRestoreRequest = (id: number, schemaVersion: number, state: Buffer): Buffer[] =>
  delimitedWithBytes(RequestType, { id, schemaVersion }, 'restore', 'state', state);

/** A save response as parts for one write, the state not copied. */
export const encodeSavedResponse = (id: number, state: Buffer): Buffer[] =>
  delimitedWithBytes(ResponseType, { id }, 'saved', 'state', state);
