// The control socket: length-delimited protobuf requests, one response each.
// A bad request gets a typed error and never touches the device; a broken
// stream (bad length prefix, oversized message) closes that client only.
import { chmodSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { DaemonContext } from './context.js';
import { controlHandlers, type ControlHandler } from './control-handlers.js';
import { DeviceError } from '../device-error.js';
import { errorReply } from './control-errors.js';
import type { Request, RequestBody, Response } from './control-types.js';
import { CONTROL_SCHEMA_VERSION, DelimitedReader, REPLY_TO, decodeRequest, encodeResponse, type Init, type RequestKind } from './schema.js';

const MAX_REQUEST = 64 << 20; // a saved device state can be large
const MAX_CLIENTS = 32;

export class ControlServer {
  private server: Server | null = null;
  private readonly clients = new Set<Socket>();
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
      server.listen(this.path, () => {
        chmodSync(this.path, mode);
        this.log.info({ path: this.path }, 'control_listening');
        resolve();
      });
    });
  }

  stop(): void {
    for (const c of this.clients) c.destroy();
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
    this.clients.add(sock);
    const reader = new DelimitedReader(MAX_REQUEST);
    sock.on('data', (chunk) => {
      let messages: Buffer[];
      try {
        messages = reader.push(chunk);
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'control_client_dropped');
        sock.destroy();
        return;
      }
      // In order: each response is written before the next request is handled.
      this.queue = this.queue
        .then(async () => {
          for (const m of messages) if (!sock.destroyed) sock.write(await this.handle(m));
        })
        .catch((e) => {
          this.log.error({ err: (e as Error).message }, 'control_internal_error');
          sock.destroy();
        });
    });
    sock.on('error', () => {});
    sock.on('close', () => this.clients.delete(sock));
  }

  private async handle(bytes: Buffer): Promise<Buffer> {
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
    return encodeResponse(response);
  }

  /** Runs the handler for `kind`; its result goes in the response field REPLY_TO[kind]. */
  private async dispatch<K extends RequestKind>(kind: K, req: Request): Promise<Init<Response>> {
    const body = req[kind] as RequestBody[K] | undefined;
    if (!body) throw new DeviceError('invalid', `request ${kind} without its body`);
    const handler = controlHandlers[kind] as ControlHandler<K>;
    return { [REPLY_TO[kind]]: await handler(this.ctx, body) };
  }
}
