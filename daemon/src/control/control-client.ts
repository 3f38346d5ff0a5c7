// Control API client (used by `apple-gfxd ctl`, tests and tools).
import { createConnection, type Socket } from 'node:net';
import type { Error_Code, RequestBody, Response } from './control-types.js';
import { CONTROL_SCHEMA_VERSION, DelimitedReader, REPLY_TO, decodeResponse, encodeRequest, type Init, type ReplyTo, type RequestKind } from './schema.js';

/** An error response, as the client sees it. */
export class ControlReplyError extends Error {
  constructor(
    readonly code: Error_Code,
    message: string,
  ) {
    super(message);
  }
}

export class ControlClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Response) => void; reject: (e: Error) => void }>();
  private readonly reader = new DelimitedReader(128 << 20);

  private constructor(private readonly sock: Socket) {
    sock.on('data', (chunk) => {
      for (const m of this.reader.push(chunk)) {
        const r = decodeResponse(m);
        const p = this.pending.get(r.id);
        if (!p) continue;
        this.pending.delete(r.id);
        p.resolve(r);
      }
    });
    sock.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('control connection closed'));
      this.pending.clear();
    });
  }

  static connect(path: string): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(path);
      sock.once('connect', () => resolve(new ControlClient(sock)));
      sock.once('error', (e) => reject(new Error(`cannot reach the control socket ${path}: ${e.message}`)));
    });
  }

  /** Sends {kind: body}; resolves with the response body, rejects with ControlReplyError on an error response. */
  async call<K extends RequestKind>(kind: K, body?: Init<RequestBody[K]>, schemaVersion = CONTROL_SCHEMA_VERSION): Promise<ReplyTo<K>> {
    const id = this.nextId++;
    const reply = new Promise<Response>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.sock.write(encodeRequest({ id, schemaVersion, [kind]: body ?? {} }));
    const r = await reply;
    if (r.error) throw new ControlReplyError(r.error.code, r.error.message);
    const out = r[REPLY_TO[kind]];
    if (!out) throw new Error(`response ${r.body ?? 'without a body'} to ${kind}; expected ${REPLY_TO[kind]}`);
    return out as ReplyTo<K>;
  }

  /** Raw bytes, for tests of malformed input. */
  writeRaw(bytes: Buffer): void {
    this.sock.write(bytes);
  }

  close(): void {
    this.sock.destroy();
  }
}
