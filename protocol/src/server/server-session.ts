// One vfio-user client connection, server side.
//
// Messages are handled one at a time, in arrival order (docs/design.md
// invariant 2): a posted write is complete before the next message is even
// looked at, so it is complete before any later reply. Most are handled
// synchronously; one whose device work is asynchronous returns a promise,
// and the caller hands over nothing more until it settles. Every command
// without NO_REPLY gets exactly one reply; NO_REPLY commands get none, not even
// on error (docs/design.md P5). Nothing from the socket is trusted: every field is checked
// before the device sees it, and a bad message costs an error reply, never the
// session.
import { Command, Errno, HEADER_SIZE, MsgFlag, commandName } from '../constants.js';
import { type Capabilities } from '../codec/version.js';
import type { VfioUserDevice } from '../device.js';
import { VfioUserError, errnoOf, invalid } from '../errors.js';
import { decodeHeader, encodeMessage, isReply, wantsReply, type Header } from '../header.js';
import type { Logger } from '../logger.js';
import type { Transport } from '../transport.js';
import { LatencyHistogram } from '../histogram.js';
import { FdBag } from './fd-bag.js';
import { handlers } from './command-handlers.js';
import type { HandlerContext, Reply } from './handler.js';
import type { ServerLimits } from './limits.js';

export interface SessionStats {
  messages: number;
  errors: number;
  byCommand: Record<string, number>;
}

export class ServerSession implements HandlerContext {
  negotiated: Capabilities | null = null;
  readonly stats: SessionStats = { messages: 0, errors: 0, byCommand: {} };

  constructor(
    readonly device: VfioUserDevice,
    private readonly transport: Transport,
    readonly limits: ServerLimits,
    readonly log: Logger,
    /** Handling time per command name, shared across sessions by the owner (optional). */
    private readonly latency?: Map<string, LatencyHistogram>,
  ) {}

  /** Negotiated transfer limit (before VERSION: ours). */
  get maxDataXferSize(): number {
    return this.negotiated?.maxDataXferSize ?? this.limits.maxDataXferSize;
  }

  /**
   * Handles one message. Returns a promise when the device's work for it is
   * asynchronous (a reset, a migration step): the reply goes out when it
   * settles, and the caller hands over no other message before that.
   */
  handleMessage(message: Buffer, fds: number[]): void | Promise<void> {
    const t0 = this.latency ? process.hrtime.bigint() : 0n;
    const bag = new FdBag(fds);
    const h = decodeHeader(message);
    this.stats.messages++;
    const name = commandName(h.command);
    this.stats.byCommand[name] = (this.stats.byCommand[name] ?? 0) + 1;
    let pending: Promise<void> | null = null;
    try {
      if (isReply(h)) {
        // We never send requests to the client, so no reply can be expected.
        this.log.warn({ id: h.id, command: name, fds: fds.length }, 'vfio_user_unexpected_reply');
        return;
      }
      const reply = this.dispatch(h, message.subarray(HEADER_SIZE), bag);
      if (!(reply instanceof Promise)) {
        if (wantsReply(h)) this.reply(h, 0, reply);
        return;
      }
      pending = reply.then(
        (r) => {
          if (wantsReply(h)) this.reply(h, 0, r);
        },
        (err: unknown) => this.failed(h, name, err),
      );
      pending = pending.finally(() => this.done(h, name, bag, t0));
      return pending;
    } catch (err) {
      this.failed(h, name, err);
    } finally {
      if (!pending) this.done(h, name, bag, t0);
    }
  }

  private failed(h: Header, name: string, err: unknown): void {
    this.stats.errors++;
    const errno = errnoOf(err);
    const level = err instanceof VfioUserError || (err as { errno?: number }).errno ? 'warn' : 'error';
    this.log[level]({ id: h.id, command: name, errno, noReply: !wantsReply(h), err: (err as Error).message }, 'vfio_user_request_failed');
    if (wantsReply(h)) this.reply(h, errno);
  }

  private done(h: Header, name: string, bag: FdBag, t0: bigint): void {
    const closed = bag.closeRemaining();
    if (closed > 0) this.log.debug({ id: h.id, command: name, closed }, 'vfio_user_fds_closed');
    if (this.latency) {
      let hist = this.latency.get(name);
      if (!hist) this.latency.set(name, (hist = new LatencyHistogram()));
      hist.record(Number(process.hrtime.bigint() - t0) / 1000);
    }
  }

  private dispatch(h: Header, payload: Buffer, bag: FdBag): Reply | Promise<Reply> {
    if ((h.flags & MsgFlag.TYPE_MASK) !== MsgFlag.TYPE_COMMAND)
      throw invalid(`message type ${h.flags & MsgFlag.TYPE_MASK} is neither command nor reply`);
    if (h.flags & ~MsgFlag.KNOWN) throw invalid(`unknown header flags 0x${h.flags.toString(16)}`);
    if (h.flags & MsgFlag.ERROR) throw invalid('a command with the error flag set');
    if (h.error !== 0) throw invalid(`a command with error field ${h.error}`);
    if (this.negotiated === null && h.command !== Command.VERSION) throw invalid(`${commandName(h.command)} before VERSION negotiation`);
    const handler = handlers.get(h.command);
    if (!handler) throw new VfioUserError(Errno.ENOSYS, `command ${commandName(h.command)} is not supported`);
    if (!handler.acceptsFds && bag.length > 0) throw invalid(`${commandName(h.command)} carries ${bag.length} fds; none expected`);
    return handler.handle(this, h, payload, bag);
  }

  private reply(h: Header, errno: number, payload?: Buffer): void {
    const flags = MsgFlag.TYPE_REPLY | (errno ? MsgFlag.ERROR : 0);
    // An error reply is header-only, as QEMU builds its own.
    const msg = encodeMessage({ id: h.id, command: h.command, flags, error: errno }, errno ? undefined : payload);
    if (!this.transport.send(msg)) this.log.debug({ id: h.id }, 'vfio_user_reply_peer_gone');
  }

  /**
   * The client left: release what belongs to it, keep device state (spec,
   * invariant 5). A promise when the device lets go asynchronously: the next
   * client is accepted once it settles.
   */
  closed(reason: string | null): void | Promise<void> {
    const log = (): void => this.log.info({ reason, messages: this.stats.messages, errors: this.stats.errors }, 'vfio_user_client_closed');
    const gone = this.device.disconnected();
    if (gone instanceof Promise) return gone.finally(log);
    log();
  }
}
