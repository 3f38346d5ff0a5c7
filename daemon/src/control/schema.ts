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
export type Init<T> = T extends Buffer ? Buffer : T extends (infer U)[] ? Init<U>[] : T extends object ? { [K in keyof T]?: Init<T[K]> | null } : T;

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, bytes: Buffer, defaults: true, oneofs: true, arrays: true };

export const decodeRequest = (bytes: Uint8Array): Request => RequestType.toObject(RequestType.decode(bytes), TO_OBJECT) as Request;
export const decodeResponse = (bytes: Uint8Array): Response => ResponseType.toObject(ResponseType.decode(bytes), TO_OBJECT) as Response;
export const encodeRequest = (r: Init<Request>): Buffer => delimited(RequestType, r);
export const encodeResponse = (r: Init<Response>): Buffer => delimited(ResponseType, r);

/** Splits a stream into varint-length-delimited messages. Throws on a bad or oversized prefix. */
export class DelimitedReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly maxMessage: number) {}

  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      let len = 0;
      let shift = 0;
      let i = 0;
      for (; i < this.buf.length && i < 5; i++) {
        const b = this.buf[i]!;
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (!(b & 0x80)) break;
      }
      if (i === this.buf.length) return out; // prefix incomplete
      if (i === 5) throw new Error('length prefix longer than 5 bytes');
      if (len > this.maxMessage) throw new Error(`message of ${len} bytes exceeds ${this.maxMessage}`);
      const start = i + 1;
      if (this.buf.length < start + len) return out;
      out.push(this.buf.subarray(start, start + len));
      this.buf = this.buf.subarray(start + len);
    }
  }
}

function delimited(t: protobuf.Type, obj: object): Buffer {
  const msg = t.fromObject(obj as Record<string, unknown>); // converts enum names, numbers and nested objects
  const err = t.verify(msg);
  if (err) throw new Error(`invalid ${t.name}: ${err}`);
  return Buffer.from(t.encodeDelimited(msg).finish());
}
