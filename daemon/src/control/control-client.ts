// Control API client (used by `apple-gfxd ctl` and tests).
import { createConnection, type Socket } from 'node:net';
import { CONTROL_SCHEMA_VERSION, DelimitedReader, RequestType, ResponseType, delimited, toPlain } from './schema.js';

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
  private readonly reader = new DelimitedReader(128 << 20);

  private constructor(private readonly sock: Socket) {
    sock.on('data', (chunk) => {
      for (const m of this.reader.push(chunk)) {
        const r = toPlain(ResponseType, ResponseType.decode(m));
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
  async call(kind: string, body: Record<string, unknown> = {}, schemaVersion = CONTROL_SCHEMA_VERSION): Promise<Record<string, any>> {
    const id = this.nextId++;
    const reply = new Promise<Record<string, any>>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.sock.write(delimited(RequestType, { id, schemaVersion, [kind]: body }));
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
