// The control socket: length-delimited protobuf requests, one response each.
// A bad request gets a typed error and never touches the device; a broken
// stream (bad length prefix, oversized message) closes that client only.
import { unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { DaemonContext } from './context.js';
import { controlHandlers } from './handlers.js';
import { CONTROL_SCHEMA_VERSION, ControlError, DelimitedReader, RequestType, ResponseType, delimited, delimitedWithBytes, toPlain } from './schema.js';
import { MAX_CONTROL_MESSAGE_BYTES } from '../state/limits.js';

const MAX_CLIENTS = 32;
/**
 * Bytes held for incomplete requests, all control clients together: one
 * request of the largest size at a time (a second big restore under way at
 * the same time drops its client).
 */
const MAX_BUFFERED = MAX_CONTROL_MESSAGE_BYTES + (1 << 20);
/** Responses one client has not read: a response that would take it past this (one state) drops the client. */
const MAX_UNREAD = MAX_CONTROL_MESSAGE_BYTES;

export class ControlServer {
  private server: Server | null = null;
  private readonly clients = new Map<Socket, DelimitedReader>();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly ctx: DaemonContext,
    private readonly log: Logger,
  ) {}

  start(mode = 0o600): Promise<void> {
    try {
      unlinkSync(this.path); // a control socket is ours; a stale one is replaced
    } catch {
      // none there
    }
    const server = createServer((sock) => this.accept(sock));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      // The socket is created with its final mode: the umask is set around
      // listen(), whose bind() runs before it returns. A chmod afterwards left
      // a moment in which any user could connect and keep the connection.
      const umask = process.umask(~mode & 0o777);
      try {
        server.listen(this.path, () => {
          this.log.info({ path: this.path }, 'control_listening');
          resolve();
        });
      } finally {
        process.umask(umask);
      }
    });
  }

  stop(): void {
    for (const c of this.clients.keys()) c.destroy();
    this.server?.close();
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  private accept(sock: Socket): void {
    if (this.clients.size >= MAX_CLIENTS) {
      sock.destroy();
      return;
    }
    const reader = new DelimitedReader(MAX_CONTROL_MESSAGE_BYTES);
    this.clients.set(sock, reader);
    const drop = (why: string): void => {
      this.log.warn({ err: why }, 'control_client_dropped');
      sock.destroy();
    };
    sock.on('data', (chunk) => {
      let items: ReturnType<DelimitedReader['push']>;
      try {
        items = reader.push(chunk);
      } catch (e) {
        return drop((e as Error).message);
      }
      let held = 0;
      for (const r of this.clients.values()) held += r.buffered;
      if (held > MAX_BUFFERED) return drop(`control requests buffered over ${MAX_BUFFERED} bytes (another big request under way)`);
      if (items.length === 0) return;
      // In order: each response is written before the next request is handled.
      this.queue = this.queue
        .then(async () => {
          for (const item of items) {
            if (sock.destroyed) return;
            const reply =
              'message' in item
                ? await this.handle(item.message)
                : // Its id was never read: id 0 answers the oldest request waiting (responses go in order).
                  [delimited(ResponseType, { id: 0, error: { code: 'TOO_LARGE', message: `request of ${item.tooLarge} bytes exceeds ${MAX_CONTROL_MESSAGE_BYTES}` } })];
            const bytes = reply.reduce((n, b) => n + b.length, 0);
            if (sock.writableLength > 0 && sock.writableLength + bytes > MAX_UNREAD)
              return drop(`client does not read its responses (${sock.writableLength} bytes unread)`);
            sock.cork();
            for (const b of reply) sock.write(b);
            sock.uncork();
          }
        })
        .catch((e) => {
          this.log.error({ err: (e as Error).message }, 'control_internal_error');
          sock.destroy();
        });
    });
    sock.on('error', () => {});
    sock.on('close', () => this.clients.delete(sock));
  }

  private async handle(bytes: Buffer): Promise<Buffer[]> {
    let id = 0;
    let body: Record<string, any>;
    try {
      let req: Record<string, any>;
      try {
        req = toPlain(RequestType, RequestType.decode(bytes));
      } catch (e) {
        throw new ControlError('BAD_REQUEST', `not a Request message: ${(e as Error).message}`);
      }
      id = req.id;
      if (req.schemaVersion !== CONTROL_SCHEMA_VERSION)
        throw new ControlError('VERSION_MISMATCH', `schema version ${req.schemaVersion}; this daemon speaks ${CONTROL_SCHEMA_VERSION}`);
      const kind = req.body as string | undefined;
      const handler = kind ? controlHandlers[kind] : undefined;
      if (!kind || !handler) throw new ControlError('BAD_REQUEST', 'request without a known body');
      this.log.debug({ id, kind }, 'control_request');
      body = await handler(this.ctx, req[kind] ?? {});
    } catch (e) {
      const code = e instanceof ControlError ? e.code : 'INTERNAL';
      if (code === 'INTERNAL') this.log.error({ err: (e as Error).message }, 'control_internal_error');
      body = { error: { code, message: (e as Error).message } };
    }
    // A saved state goes out as it is, not copied into the message.
    if (Buffer.isBuffer(body.saved?.state)) return delimitedWithBytes(ResponseType, { id }, 'saved', 'state', body.saved.state);
    return [delimited(ResponseType, { id, ...body })];
  }
}
