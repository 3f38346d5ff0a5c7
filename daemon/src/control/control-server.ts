// The control socket: length-delimited protobuf requests, one response each.
// A bad request gets a typed error and never touches the device; a broken
// stream (bad length prefix, oversized message) closes that client only.
import { unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { DaemonContext } from './context.js';
import { controlHandlers, type ControlHandler } from './control-handlers.js';
import { DeviceError } from '../device-error.js';
import { errorReply } from './control-errors.js';
import type { Request, RequestBody, Response } from './control-types.js';
import {
  CONTROL_SCHEMA_VERSION,
  DelimitedReader,
  REPLY_TO,
  decodeRequest,
  encodeResponse,
  encodeSavedResponse,
  type Init,
  type RequestKind,
} from './schema.js';
import { MAX_CONTROL_MESSAGE_BYTES } from '../state/limits.js';

const MAX_CLIENTS = 32;
/**
 * Bytes held for requests, all control clients together: those still being
 * received and those received but not yet answered (clients do not wait for
 * one another, so a request can wait for a device operation while others
 * arrive). One request of the largest size at a time: a second big restore
 * under way at the same time drops its client.
 */
export const MAX_BUFFERED = MAX_CONTROL_MESSAGE_BYTES + (1 << 20);
/** Responses one client has not read: a response that would take it past this (one state) drops the client. */
const MAX_UNREAD = MAX_CONTROL_MESSAGE_BYTES;

export class ControlServer {
  private server: Server | null = null;
  /** Per client: its reader, and the bytes of requests received and not yet answered. */
  private readonly clients = new Map<Socket, { reader: DelimitedReader; pending: number }>();

  constructor(
    readonly path: string,
    private readonly ctx: DaemonContext,
    private readonly log: Logger,
    /** MAX_BUFFERED unless a test asks for less. */
    private readonly maxBuffered = MAX_BUFFERED,
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
    const held = { reader, pending: 0 };
    this.clients.set(sock, held);
    // Each client's requests are answered in order; clients do not wait for
    // one another (a `status` is answered while another client's reset or
    // restore is under way: operations on the device queue in DeviceOps).
    let queue: Promise<void> = Promise.resolve();
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
      const size = (item: (typeof items)[number]): number => ('message' in item ? item.message.length : 0);
      held.pending += items.reduce((n, item) => n + size(item), 0);
      let total = 0;
      for (const c of this.clients.values()) total += c.reader.buffered + c.pending;
      if (total > this.maxBuffered) return drop(`control requests held over ${this.maxBuffered} bytes (another big request under way)`);
      if (items.length === 0) return;
      // In order: each response is written before the next request is handled.
      queue = queue
        .then(async () => {
          for (const item of items) {
            if (sock.destroyed) return;
            const reply =
              'message' in item
                ? await this.handle(item.message).finally(() => (held.pending -= size(item)))
                : // Its id was never read: id 0 answers the oldest request waiting (responses go in order).
                  [
                    encodeResponse({
                      id: 0,
                      error: { code: 'TOO_LARGE', message: `request of ${item.tooLarge} bytes exceeds ${MAX_CONTROL_MESSAGE_BYTES}` },
                    }),
                  ];
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
    let response: Init<Response>;
    try {
      let req: Request;
      try {
        req = decodeRequest(bytes);
      } catch (e) {
        throw new DeviceError('invalid', `not a Request message: ${(e as Error).message}`);
      }
      id = req.id;
      if (req.schemaVersion !== CONTROL_SCHEMA_VERSION)
        throw new DeviceError('version-mismatch', `schema version ${req.schemaVersion}; this daemon speaks ${CONTROL_SCHEMA_VERSION}`);
      if (!req.body) throw new DeviceError('invalid', 'request without a known body');
      this.log.debug({ id, kind: req.body }, 'control_request');
      response = { id, ...(await this.dispatch(req.body, req)) };
    } catch (e) {
      const error = errorReply(e);
      if (error.code === 'INTERNAL') this.log.error({ err: error.message }, 'control_internal_error');
      response = { id, error };
    }
    // A saved state goes out as it is, not copied into the message.
    const saved = (response as { saved?: { state?: unknown } }).saved?.state;
    if (Buffer.isBuffer(saved)) return encodeSavedResponse(id, saved);
    return [encodeResponse(response)];
  }

  /** Runs the handler for `kind`; its result goes in the response field REPLY_TO[kind]. */
  private async dispatch<K extends RequestKind>(kind: K, req: Request): Promise<Init<Response>> {
    const body = req[kind] as RequestBody[K] | undefined;
    if (!body) throw new DeviceError('invalid', `request ${kind} without its body`);
    const handler = controlHandlers[kind] as ControlHandler<K>;
    return { [REPLY_TO[kind]]: await handler(this.ctx, body) };
  }
}
