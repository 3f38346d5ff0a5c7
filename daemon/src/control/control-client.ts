// Control API client (used by `apple-gfxd ctl`, tests and tools).
import { createConnection, type Socket } from 'node:net';
import type { Error_Code, RequestBody, Response } from './control-types.js';
import {
  CONTROL_SCHEMA_VERSION,
  DelimitedReader,
  REPLY_TO,
  decodeResponse,
  encodeRequest,
  encodeRestoreRequest,
  type Init,
  type ReplyTo,
  type RequestKind,
} from './schema.js';
import { MAX_CONTROL_MESSAGE_BYTES } from '../state/limits.js';

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
  private readonly reader = new DelimitedReader(MAX_CONTROL_MESSAGE_BYTES);

  private constructor(private readonly sock: Socket) {
    sock.on('data', (chunk) => {
      let items: ReturnType<DelimitedReader['push']>;
      try {
        items = this.reader.push(chunk);
      } catch (e) {
        return void sock.destroy(e as Error);
      }
      for (const item of items) {
        // Responses come in request order: one too big to read answers the oldest request waiting.
        const r: Response =
          'message' in item
            ? decodeResponse(item.message)
            : ({
                id: 0,
                body: 'error',
                error: { code: 'TOO_LARGE', message: `response of ${item.tooLarge} bytes exceeds ${MAX_CONTROL_MESSAGE_BYTES}` },
              } as Response);
        // id 0: the daemon could not read the request's id (it was too large): the oldest request waiting.
        const id = r.id === 0 && !this.pending.has(0) ? this.pending.keys().next().value : r.id;
        const p = id === undefined ? undefined : this.pending.get(id);
        if (!p) continue;
        this.pending.delete(id!);
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
    const state = kind === 'restore' ? (body as Init<RequestBody['restore']> | undefined)?.state : undefined;
    if (Buffer.isBuffer(state)) {
      // A state goes out as it is, not copied into the message.
      this.sock.cork();
      for (const b of encodeRestoreRequest(id, schemaVersion, state)) this.sock.write(b);
      this.sock.uncork();
    } else this.sock.write(encodeRequest({ id, schemaVersion, [kind]: body ?? {} }));
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
