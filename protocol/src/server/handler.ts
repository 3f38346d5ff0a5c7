// What a command handler is and what it sees of the session. Each handler
// decodes and checks its message, calls the device, and returns the reply
// payload (undefined = header only), or a promise of it when the device's
// work is asynchronous (a reset, a migration step): the session replies when
// it settles and handles nothing else meanwhile (docs/design.md invariant 2).
import type { Capabilities } from '../codec/version.js';
import type { VfioUserDevice } from '../device.js';
import type { Header } from '../header.js';
import type { Logger } from '../logger.js';
import type { FdBag } from './fd-bag.js';
import type { ServerLimits } from './limits.js';

export interface HandlerContext {
  readonly device: VfioUserDevice;
  readonly limits: ServerLimits;
  readonly log: Logger;
  negotiated: Capabilities | null;
  readonly maxDataXferSize: number;
}

export interface Handler {
  acceptsFds: boolean;
  handle(ctx: HandlerContext, h: Header, payload: Buffer, fds: FdBag): Reply | Promise<Reply>;
}

export type Reply = Buffer | undefined;

/** `then` for a value that may or may not be a promise: synchronous when it is not. */
export function andThen<T, U>(v: T | Promise<T>, f: (t: T) => U): U | Promise<U> {
  return v instanceof Promise ? v.then(f) : f(v);
}
