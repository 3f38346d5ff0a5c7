// Control API client (used by `apple-gfxd ctl` and tests).
import { createConnection, type Socket } from 'node:net';
import { CONTROL_SCHEMA_VERSION, DelimitedReader, RequestType, ResponseType, delimited, delimitedWithBytes, toPlain } from './schema.js';
import { MAX_CONTROL_MESSAGE_BYTES } from '../state/limits.js';

export class ControlReplyError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class ControlClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Record<string, any>) => void; reject: (e: Error) => void }>();
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
        const r =
          'message' in item
            ? toPlain(ResponseType, ResponseType.decode(item.message))
            : { id: 0, body: 'error', error: { code: 'TOO_LARGE', message: `response of ${item.tooLarge} bytes exceeds ${MAX_CONTROL_MESSAGE_BYTES}` } };
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
  async call(kind: string, body: Record<string, unknown> = {}, schemaVersion = CONTROL_SCHEMA_VERSION): Promise<Record<string, any>> {
    const id = this.nextId++;
    const reply = new Promise<Record<string, any>>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    if (kind === 'restore' && Buffer.isBuffer(body.state)) {
      // A state goes out as it is, not copied into the message.
      const parts = delimitedWithBytes(RequestType, { id, schemaVersion }, 'restore', 'state', body.state);
      this.sock.cork();
      for (const b of parts) this.sock.write(b);
      this.sock.uncork();
    } else this.sock.write(delimited(RequestType, { id, schemaVersion, [kind]: body }));
    const r = await reply;
    if (r.body === 'error') throw new ControlReplyError(r.error.code, r.error.message);
    return r[r.body];
  }

  /** Raw bytes, for tests of malformed input. */
  writeRaw(bytes: Buffer): void {
    this.sock.write(bytes);
  }

  close(): void {
    this.sock.destroy();
  }
}
